/* targets.c - see targets.h. */
#include "targets.h"

#include <stdlib.h>
#include <string.h>

#include "hfcache.h"
#include "safetensors.h"
#include "vramfit.h"

/* A whole .safetensors file as it could come back from a Range request:
 * the 8-byte length, then the header, maybe data. */
int vf_fuzz_st_header(const uint8_t *data, size_t size)
{
	vf_error err;
	vf_st_summary sum;
	memset(&sum, 0, sizeof sum);
	uint64_t len;
	if (size < 8 || vf_st_header_length(data, size, &len, "fuzz", &err))
		return 0;
	vf_st_parse_header(&sum, (const char *)data + 8, (size_t)len,
			   size - 8 - len, "fuzz", &err);
	/* and as a header-only copy from the cache: data size unknown */
	memset(&sum, 0, sizeof sum);
	vf_st_parse_header(&sum, (const char *)data + 8, (size_t)len,
			   UINT64_MAX, "fuzz", &err);
	return 0;
}

int vf_fuzz_st_index(const uint8_t *data, size_t size)
{
	vf_error err;
	vf_st_name *shards;
	size_t n;
	if (vf_st_parse_index((const char *)data, size, &shards, &n, "fuzz",
			      &err) == VF_OK) {
		for (size_t i = 0; i < n; i++)
			if (!vf_st_shard_name_ok(shards[i]))
				abort(); /* names become paths and URLs */
		free(shards);
	}
	return 0;
}

int vf_fuzz_config(const uint8_t *data, size_t size)
{
	vf_error err;
	vf_model m;
	if (vf_model_from_config_json(&m, "fuzz", (const char *)data, size,
				      &err) == VF_OK &&
	    m.params.total >= 1000000000000ull)
		abort(); /* vf_model_init promises to refuse these */
	return 0;
}

/* --model as typed: a Hub id must never name a path outside the cache. */
int vf_fuzz_spec(const uint8_t *data, size_t size)
{
	char spec[512];
	if (size >= sizeof spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	vf_repo_id id;
	vf_error err;
	if (vf_repo_id_parse(spec, &id, &err) == VF_OK &&
	    (strstr(id.repo, "..") || strstr(id.revision, "..") ||
	     id.repo[0] == '/' || id.revision[0] == '/'))
		abort();
	return 0;
}

/* Training configs (vramfit check): YAML or JSON of any shape. */
int vf_fuzz_train_config(const uint8_t *data, size_t size)
{
	static vf_train_config cfg;
	vf_error err;
	if (vf_train_config_parse(&cfg, "fuzz", (const char *)data, size,
				  VF_CONFIG_AUTO, &err) == VF_OK &&
	    cfg.n_warnings > VF_CONFIG_MAX_WARNINGS)
		abort();
	return 0;
}

/* The run object (--run FILE, calibration rows); what parses must
 * serialize and parse back to the same run. */
int vf_fuzz_run_json(const uint8_t *data, size_t size)
{
	vf_run r, back;
	char model[128];
	vf_error err;
	if (vf_run_from_json(&r, model, sizeof model, (const char *)data, size,
			     &err) != VF_OK)
		return 0;
	char *text = vf_run_to_json(&r, model);
	if (!text)
		return 0;
	if (vf_run_from_json(&back, model, sizeof model, text, strlen(text),
			     &err) != VF_OK)
		abort();
	free(text);
	return 0;
}

const vf_fuzz_target vf_fuzz_targets[] = {
	{"st_header", vf_fuzz_st_header},
	{"st_index", vf_fuzz_st_index},
	{"config", vf_fuzz_config},
	{"spec", vf_fuzz_spec},
	{"train_config", vf_fuzz_train_config},
	{"run_json", vf_fuzz_run_json},
};
const size_t vf_fuzz_target_count =
	sizeof vf_fuzz_targets / sizeof vf_fuzz_targets[0];
