/*
 * hub.h - files and byte ranges of files from a Hugging Face Hub over HTTP
 * (libcurl). Internal; model_source.c is its one user.
 */
#ifndef VF_HUB_H
#define VF_HUB_H

#include "vramfit.h"

typedef struct vf_hub {
	char endpoint[512];       /* no trailing '/' */
	char token[512];          /* "" for none; never put into messages */
	long timeout_s;           /* per request */
	unsigned retries;         /* extra tries on 5xx / network errors */
	long backoff_ms;          /* first wait between tries; doubles */
	void (*progress)(const char *line, void *payload);
	void *payload;
} vf_hub;

/* Endpoint, token, timeout and retries from `opts`, else the environment
 * (HF_ENDPOINT, HF_TOKEN / token file, VRAMFIT_HTTP_TIMEOUT,
 * VRAMFIT_HTTP_RETRIES), else the defaults (docs/models.md). */
void vf_hub_init(vf_hub *hub, const vf_source_opts *opts);

/* What a GET brought back. `data` is malloc'd (NUL-terminated). */
typedef struct vf_hub_body {
	char *data;
	size_t len;
	uint64_t total;           /* whole file size from Content-Range, or
				   * UINT64_MAX when the server did not say */
	char commit[64];          /* X-Repo-Commit, or "" */
	/* Also set when the GET failed: the last HTTP status (0: none) and
	 * the Hub's X-Error-Code ("EntryNotFound", "GatedRepo", ...). */
	long status;
	char error_code[32];
} vf_hub_body;

/* The file is absent from an existing revision (a 404 that is not about
 * the repo or the revision). */
bool vf_hub_missing_file(const vf_hub_body *b);

/* Replaces every occurrence of `secret` in `s` with "***". */
void vf_scrub(char *s, const char *secret);

/*
 * GET {endpoint}/{repo}/resolve/{revision}/{file}, whole (`length` 0, at
 * most `max_len` bytes) or the bytes [offset, offset + length) with a Range
 * request. A server that ignores Range is read only up to the bytes wanted,
 * never further. Redirects are followed, TLS verified, 5xx/429 and
 * connection errors retried with backoff.
 * Errors: VF_ENOTFOUND (repo, revision or file; says which when the server
 * does), VF_EAUTH (gated/private; how to give a token), VF_ENET.
 */
vf_status vf_hub_get(const vf_hub *hub, const char *repo, const char *revision,
		     const char *file, uint64_t offset, uint64_t length,
		     size_t max_len, vf_hub_body *out, vf_error *err);

void vf_hub_body_free(vf_hub_body *b);

#endif
