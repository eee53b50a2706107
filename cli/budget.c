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

const char cli_budget_help[] =
	"  --vram SIZE|auto       memory per GPU: 24 and 20.5 are GiB (a \"24 GB\"\n"
	"                         card), 16gb/16GiB GiB, 16376MiB/16376mb MiB;\n"
	"                         auto: detected through NVML, minus what other\n"
	"                         processes hold now\n"
	"  --gpu NAME             a GPU of the table (rtx4050-laptop, rtx3090,\n"
	"                         h100-sxm, ...): its memory as nvidia-smi shows it\n"
	"  --safety-margin MiB    kept free (default 1024)\n";

void cli_budget_init(cli_budget *b)
{
	memset(b, 0, sizeof *b);
	b->margin_mib = 1024;
}

bool cli_budget_flag(cli_budget *b, const char *name, const char *arg,
		     int *status)
{
	*status = EXIT_OK;
	if (strcmp(name, "vram") == 0)
		b->vram = arg;
	else if (strcmp(name, "gpu") == 0)
		b->gpu = arg;
	else if (strcmp(name, "safety-margin") == 0) {
		if (!cli_parse_u32("--safety-margin", arg, 0, 1u << 20,
				   &b->margin_mib))
			*status = EXIT_USAGE;
	} else
		return false;
	return true;
}

int cli_budget_resolve(cli_budget *b)
{
	uint64_t margin = (uint64_t)b->margin_mib << 20;
	if (b->gpu) {
		vf_error err;
		if (vf_gpu_spec_find(b->gpu, &b->spec, &err))
			return cli_usage_error("--gpu: %s", err.message);
		b->have_spec = true;
		if (!b->vram) {
			if (b->spec.memory_bytes <= margin)
				return cli_usage_error("--gpu %s: %llu MiB is not "
						       "more than the safety margin",
						       b->gpu,
						       (unsigned long long)(b->spec.memory_bytes >> 20));
			b->capacity = b->spec.memory_bytes;
			b->budget = b->capacity - margin;
			return EXIT_OK;
		}
	}
	if (!b->vram)
		return EXIT_OK;
	int status = cli_vram_budget(b->vram, margin, &b->budget, b->note,
				     sizeof b->note);
	if (status == EXIT_OK)
		b->capacity = b->budget + margin;
	return status;
}
