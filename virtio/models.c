/*
 * The device models Hull knows, by name (bhyve's pe_emu table): one place
 * to see them all, and a test can link a single one.
 */
#include <string.h>

#include "virtio.h"

extern const struct virtio_model virtio_blk_model;
extern const struct virtio_model virtio_net_model;

static const struct virtio_model *const virtio_models[] = {
	&virtio_blk_model,
	&virtio_net_model,
};

const struct virtio_model *
virtio_model_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(virtio_models) / sizeof(virtio_models[0]); i++)
		if (strcmp(virtio_models[i]->mo_name, name) == 0)
			return virtio_models[i];
	return NULL;
}
