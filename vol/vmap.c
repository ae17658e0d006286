/*
 * A small hash map from u64 keys to pointers: the caches of an open volume
 * (indirect blocks, pending data blocks) and the visited sets of walks.
 * Chained buckets, doubled when the load passes 1.
 */
#include <errno.h>
#include <stdlib.h>

#include "vol_impl.h"

static size_t
vmap_hash(uint64_t k, size_t n)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return (size_t)(k & (n - 1));
}

void *
vmap_get(const struct vmap *m, uint64_t key)
{
	struct vmap_ent *e;

	if (m->m_nbuckets == 0)
		return NULL;
	for (e = m->m_tab[vmap_hash(key, m->m_nbuckets)]; e; e = e->me_next)
		if (e->me_key == key)
			return e->me_val;
	return NULL;
}

static int
vmap_grow(struct vmap *m)
{
	size_t n = m->m_nbuckets ? m->m_nbuckets * 2 : 64;
	struct vmap_ent **tab = calloc(n, sizeof(*tab));
	size_t i;

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < m->m_nbuckets; i++) {
		struct vmap_ent *e = m->m_tab[i], *next;

		for (; e; e = next) {
			size_t h = vmap_hash(e->me_key, n);

			next = e->me_next;
			e->me_next = tab[h];
			tab[h] = e;
		}
	}
	free(m->m_tab);
	m->m_tab = tab;
	m->m_nbuckets = n;
	return 0;
}

int
vmap_put(struct vmap *m, uint64_t key, void *val)
{
	struct vmap_ent *e;
	size_t h;
	int rc;

	if (m->m_nbuckets) {
		for (e = m->m_tab[vmap_hash(key, m->m_nbuckets)]; e; e = e->me_next)
			if (e->me_key == key) {
				e->me_val = val;
				return 0;
			}
	}
	if (m->m_count >= m->m_nbuckets && (rc = vmap_grow(m)) < 0)
		return rc;
	if (!(e = malloc(sizeof(*e))))
		return -ENOMEM;
	h = vmap_hash(key, m->m_nbuckets);
	e->me_key = key;
	e->me_val = val;
	e->me_next = m->m_tab[h];
	m->m_tab[h] = e;
	m->m_count++;
	return 0;
}

void *
vmap_del(struct vmap *m, uint64_t key)
{
	struct vmap_ent **pp, *e;
	void *val;

	if (m->m_nbuckets == 0)
		return NULL;
	for (pp = &m->m_tab[vmap_hash(key, m->m_nbuckets)]; (e = *pp); pp = &e->me_next)
		if (e->me_key == key) {
			*pp = e->me_next;
			val = e->me_val;
			free(e);
			m->m_count--;
			return val;
		}
	return NULL;
}

void
vmap_each(const struct vmap *m, void (*fn)(uint64_t, void *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < m->m_nbuckets; i++)
		for (struct vmap_ent *e = m->m_tab[i]; e; e = e->me_next)
			fn(e->me_key, e->me_val, arg);
}

/*
 * Heapsort, not qsort: glibc's qsort asks the kernel how much memory there
 * is (sysinfo), which the jailed VMM's I/O thread may not (docs/seccomp.md).
 */
static void
sift(uint64_t *k, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		uint64_t t;

		if (c >= n)
			return;
		if (c + 1 < n && k[c + 1] > k[c])
			c++;
		if (k[i] >= k[c])
			return;
		t = k[i];
		k[i] = k[c];
		k[c] = t;
		i = c;
	}
}

void
vol_sort_u64(uint64_t *k, size_t n)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		sift(k, i, n);
	for (i = n; i-- > 1;) {
		uint64_t t = k[0];

		k[0] = k[i];
		k[i] = t;
		sift(k, 0, i);
	}
}

uint64_t *
vmap_keys(const struct vmap *m, size_t *n)
{
	uint64_t *k;
	size_t i, j = 0;

	*n = 0;
	if (m->m_count == 0 || !(k = malloc(m->m_count * sizeof(*k))))
		return NULL;
	for (i = 0; i < m->m_nbuckets; i++)
		for (struct vmap_ent *e = m->m_tab[i]; e; e = e->me_next)
			k[j++] = e->me_key;
	vol_sort_u64(k, j);
	*n = j;
	return k;
}

void
vmap_free(struct vmap *m)
{
	size_t i;

	for (i = 0; i < m->m_nbuckets; i++) {
		struct vmap_ent *e = m->m_tab[i], *next;

		for (; e; e = next) {
			next = e->me_next;
			free(e);
		}
	}
	free(m->m_tab);
	m->m_tab = NULL;
	m->m_nbuckets = m->m_count = 0;
}
