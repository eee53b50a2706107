/* gpu_common.c - what gpus, monitor and run share: NVML failures, MiB as
 * nvidia-smi prints them, the --expect file. */
#include "cli.h"

#include <jansson.h>
#include <string.h>

int cli_gpu_error(const vf_error *err)
{
	fprintf(stderr, "vramfit: %s; without a GPU, give its memory with "
			"--vram N\n",
		err->message);
	return cli_exit_for(err->status);
}

unsigned long long cli_mib(uint64_t bytes)
{
	/* nvidia-smi truncates to whole MiB */
	return (unsigned long long)(bytes >> 20);
}

/* peak.process_bytes of an estimate, or chosen.peak.process_bytes of a
 * plan; returns EXIT_OK or prints why not. */
int cli_read_expect(const char *path, uint64_t *bytes)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root)
		return cli_usage_error("--expect: %s:%d: %s", path, jerr.line,
				       jerr.text);
	json_t *v = json_object_get(json_object_get(root, "peak"),
				    "process_bytes");
	if (!v)
		v = json_object_get(
			json_object_get(json_object_get(root, "chosen"), "peak"),
			"process_bytes");
	int rc = EXIT_OK;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		rc = cli_usage_error("--expect: %s has no positive "
				     "peak.process_bytes or "
				     "chosen.peak.process_bytes",
				     path);
	else
		*bytes = (uint64_t)json_integer_value(v);
	json_decref(root);
	return rc;
}
