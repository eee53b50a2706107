/* budget.c - `--vram SIZE|auto` into a per-GPU byte budget. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cli_vram_budget(const char *vram, uint64_t margin, uint64_t *budget,
		    char *note, size_t note_size)
{
	vf_error err;
	note[0] = '\0';
	if (strcmp(vram, "auto") != 0) {
		uint64_t bytes;
		if (vf_parse_size(vram, &bytes, &err))
			return cli_usage_error("--vram: %s", err.message);
		if (bytes <= margin)
			return cli_usage_error("--vram %s is not more than the "
					       "safety margin", vram);
		*budget = bytes - margin;
		return EXIT_OK;
	}
	vf_gpu_list *list = calloc(1, sizeof *list);
	if (!list)
		return cli_usage_error("out of memory");
	vf_gpu_budget *b = calloc(1, sizeof *b);
	int rc = EXIT_OK;
	if (!b || vf_gpus_detect(list, &err) ||
	    vf_gpu_budget_compute(list, margin, b, &err)) {
		fprintf(stderr, "vramfit: --vram auto: %s (give the memory "
				"instead, e.g. --vram 24)\n",
			b ? err.message : "out of memory");
		rc = EXIT_RUNTIME;
	} else {
		*budget = b->min_budget_bytes;
		const vf_gpu_budget_entry *g = &b->gpu[0];
		for (unsigned i = 0; i < b->n_gpus; i++)
			if (b->gpu[i].index == b->min_index)
				g = &b->gpu[i];
		snprintf(note, note_size,
			 "budget from GPU %u (%s): %llu MiB total, %llu MiB held "
			 "by other processes%s",
			 g->index, list->gpus[g->index < list->n_gpus ? g->index : 0].name,
			 (unsigned long long)(g->total_bytes >> 20),
			 (unsigned long long)(g->others_bytes >> 20),
			 b->mixed ? "; mixed GPUs: the smallest binds data-parallel "
				    "replicas" : "");
	}
	free(b);
	free(list);
	return rc;
}
