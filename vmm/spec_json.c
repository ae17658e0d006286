/*
 * A parsed spec back to JSON (include/spec.h): what `vmctl create` records
 * in the VM's directory and `vmctl get` shows.  Canonical: every key with
 * its value or default, so the record does not depend on the defaults of
 * the Hull that reads it later.
 */
#include <stdio.h>

#include <jansson.h>

#include "spec.h"

static json_t *
spec_disk_json(const struct disk_spec *d)
{
	json_t *o = json_pack("{s:s, s:b, s:s}",
	    d->ds_volume[0] != '\0' ? "volume" : "path",
	    d->ds_volume[0] != '\0' ? d->ds_volume : d->ds_path,
	    "readonly", d->ds_readonly, "cache",
	    d->ds_cache == SPEC_CACHE_WRITEBACK ? "writeback" : "none");

	if (o != NULL && d->ds_serial[0] != '\0')
		json_object_set_new(o, "serial", json_string(d->ds_serial));
	return o;
}

static json_t *
spec_nic_json(const struct nic_spec *n)
{
	json_t *o = json_object();
	char mac[18];

	if (o == NULL)
		return NULL;
	if (n->ns_tap[0] != '\0')
		json_object_set_new(o, "tap", json_string(n->ns_tap));
	if (n->ns_bridge[0] != '\0')
		json_object_set_new(o, "bridge", json_string(n->ns_bridge));
	/* Omitted when unset: the defaults are derived at start. */
	if (n->ns_has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		    n->ns_mac[0], n->ns_mac[1], n->ns_mac[2], n->ns_mac[3],
		    n->ns_mac[4], n->ns_mac[5]);
		json_object_set_new(o, "mac", json_string(mac));
	}
	if (n->ns_mtu != 0)
		json_object_set_new(o, "mtu", json_integer(n->ns_mtu));
	if (n->ns_queues != 0)
		json_object_set_new(o, "queues", json_integer(n->ns_queues));
	json_object_set_new(o, "vhost", json_boolean(n->ns_vhost));
	json_object_set_new(o, "offloads", json_boolean(!n->ns_no_offloads));
	json_object_set_new(o, "rate_limit", json_pack("{s:I, s:I}",
	    "bytes_per_sec", (json_int_t)n->ns_rate_bps,
	    "packets_per_sec", (json_int_t)n->ns_rate_pps));
	return o;
}

void *
spec_to_json(const struct vm_spec *s)
{
	json_t *o, *disks, *nics, *meta, *limits;
	unsigned int i;

	disks = json_array();
	nics = json_array();
	meta = json_object();
	for (i = 0; i < s->vs_ndisks; i++)
		json_array_append_new(disks, spec_disk_json(&s->vs_disks[i]));
	for (i = 0; i < s->vs_nnics; i++)
		json_array_append_new(nics, spec_nic_json(&s->vs_nics[i]));
	for (i = 0; i < s->vs_nmeta; i++)
		json_object_set_new(meta, s->vs_meta[i].sm_key,
		    json_string(s->vs_meta[i].sm_val));
	/* Disk limits are the VM's; the disks' copies are not written. */
	limits = json_pack("{s:i, s:I, s:I}",
	    "cpu_cap", (int)s->vs_limits.ls_cpu_cap,
	    "disk_iops", (json_int_t)s->vs_limits.ls_disk_iops,
	    "disk_bps", (json_int_t)s->vs_limits.ls_disk_bps);
	o = json_pack("{s:s, s:i, s:I, s:s, s:s, s:o, s:o, s:b, s:o, s:b, s:o}",
	    "name", s->vs_name, "vcpus", (int)s->vs_vcpus,
	    "ram", (json_int_t)s->vs_ram_mib, "kernel", s->vs_kernel,
	    "cmdline", s->vs_cmdline, "disks", disks, "nics", nics,
	    "autoboot", s->vs_autoboot, "metadata", meta,
	    "jail", s->vs_jail, "limits", limits);
	/* An initrd is optional, and "" is not a path. */
	if (o != NULL && s->vs_initrd[0] != '\0')
		json_object_set_new(o, "initrd", json_string(s->vs_initrd));
	return o;
}
