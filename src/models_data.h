/* models_data.h - the tables cmake/embed_models.cmake generates. */
#ifndef VF_MODELS_DATA_H
#define VF_MODELS_DATA_H
#include <stddef.h>

typedef struct vf_builtin_entry {
	const char *id;           /* Hub id */
	const char *file;         /* path under data/models */
	const unsigned char *json;
	size_t len;
} vf_builtin_entry;

typedef struct vf_builtin_alias {
	const char *alias;
	const char *target;
} vf_builtin_alias;

extern const vf_builtin_entry vf_builtin_models[];
extern const size_t vf_builtin_models_len;
extern const vf_builtin_alias vf_builtin_aliases[];
extern const size_t vf_builtin_aliases_len;
#endif
