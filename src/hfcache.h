/*
 * hfcache.h - where the Hugging Face cache and vramfit's own cache live,
 * and reading and writing them in the huggingface_hub layout. Internal.
 */
#ifndef VF_HFCACHE_H
#define VF_HFCACHE_H

#include "vramfit.h"

#define VF_PATH_MAX 4096

/* "org/name" and a revision, split from "org/name[@rev]". */
typedef struct vf_repo_id {
	char repo[256];           /* "org/name" */
	char revision[128];       /* "main" unless given */
	bool revision_given;
} vf_repo_id;

/* Parses a Hub id. Both parts must be non-empty, of [A-Za-z0-9._-], not
 * starting with '.' or '-' and without "..": they become paths and URLs.
 * A revision may also hold '/' ("refs/pr/1") but never "..". */
vf_status vf_repo_id_parse(const char *spec, vf_repo_id *out, vf_error *err);

/* The hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
vf_status vf_hf_hub_cache(char *out, size_t size, vf_error *err);

/* vramfit's cache of safetensors headers: $XDG_CACHE_HOME/vramfit, else
 * ~/.cache/vramfit. */
vf_status vf_vramfit_cache(char *out, size_t size, vf_error *err);

/* The token: $HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token,
 * else ~/.cache/huggingface/token. Surrounding whitespace is stripped.
 * false (and "") when there is none. */
bool vf_hf_token(char *out, size_t size);

/* True when $HF_HUB_OFFLINE is set to a true value (1, true, yes, on). */
bool vf_hf_offline_env(void);

/* True for a 40-digit lowercase hex commit hash. */
bool vf_is_commit(const char *rev);

/*
 * The snapshot folder of a revision in the hub cache:
 * <cache>/models--org--name/snapshots/<commit>, the commit read from
 * refs/<rev> unless rev is a commit or no ref exists (then the folder named
 * for the revision itself). `commit` receives the snapshot's name.
 * VF_ENOTFOUND when the folder does not exist.
 */
vf_status vf_hf_snapshot(const char *cache, const vf_repo_id *id, char *dir,
			 size_t size, char *commit, size_t csize,
			 vf_error *err);

/* Writes a file atomically (temporary file and rename), creating its
 * folders. */
vf_status vf_write_file_atomic(const char *path, const void *data, size_t len,
			       vf_error *err);

/* Paths joined with '/'; VF_EINVAL when they do not fit. */
vf_status vf_path_join(char *out, size_t size, vf_error *err, const char *a,
		       const char *b, const char *c);

#endif
