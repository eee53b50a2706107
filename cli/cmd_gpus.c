/* cmd_gpus.c - `vramfit gpus`: the GPUs a CUDA program would see now. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
	printf("usage: vramfit gpus [--json] [--known]\n\n"
	       "Lists the GPUs a CUDA program started now would see, numbered\n"
	       "as it will number them (CUDA_VISIBLE_DEVICES applied), with\n"
	       "memory in MiB as nvidia-smi shows it and the processes that\n"
	       "hold memory. Memory held by other processes is warned about:\n"
	       "it is not available to a training run.\n\n"
	       "  --json   machine-readable output (docs/gpus.md)\n"
	       "  --known  the GPU table --gpu names come from (no driver needed)\n\n"
	       "Exit status: 0 GPUs listed, 3 no driver or no GPU.\n");
}

static void print_gpu(const vf_gpu_info *g, FILE *f)
{
	const char *bold = cli_color(f, "\033[1m"), *off = cli_color(f, "\033[0m");
	fprintf(f, "%sGPU %u%s  %s", bold, g->index, off, g->name);
	if (g->index != g->nvml_index)
		fprintf(f, "  (nvidia-smi %u)", g->nvml_index);
	fputc('\n', f);
	if (VF_GPU_HAS(g, VF_GPU_UUID))
		fprintf(f, "  uuid         %s\n", g->uuid);
	fprintf(f, "  memory       %llu / %llu MiB used, %llu MiB free",
		cli_mib(g->memory_used_bytes), cli_mib(g->memory_total_bytes),
		cli_mib(g->memory_free_bytes));
	if (VF_GPU_HAS(g, VF_GPU_MEMORY_RESERVED))
		fprintf(f, ", %llu MiB reserved by the driver",
			cli_mib(g->memory_reserved_bytes));
	fputc('\n', f);
	if (VF_GPU_HAS(g, VF_GPU_COMPUTE_CAP))
		fprintf(f, "  compute      %d.%d, bf16 %s\n", g->cc_major,
			g->cc_minor, g->bf16 ? "yes" : "no");
	fprintf(f, "  temperature  ");
	if (VF_GPU_HAS(g, VF_GPU_TEMPERATURE))
		fprintf(f, "%u C\n", g->temperature_c);
	else
		fprintf(f, "unknown\n");
	if (VF_GPU_HAS(g, VF_GPU_POWER) || VF_GPU_HAS(g, VF_GPU_POWER_LIMIT)) {
		fprintf(f, "  power        ");
		if (VF_GPU_HAS(g, VF_GPU_POWER))
			fprintf(f, "%.0f W", g->power_mw / 1000.0);
		else
			fprintf(f, "? W");
		if (VF_GPU_HAS(g, VF_GPU_POWER_LIMIT))
			fprintf(f, " of %.0f W limit", g->power_limit_mw / 1000.0);
		fputc('\n', f);
	}
	if (VF_GPU_HAS(g, VF_GPU_UTILIZATION))
		fprintf(f, "  utilization  %u%% gpu, %u%% memory\n",
			g->util_gpu_pct, g->util_memory_pct);
	if (VF_GPU_HAS(g, VF_GPU_THROTTLE)) {
		char t[256];
		vf_throttle_format(g->throttle, t, sizeof t);
		fprintf(f, "  throttle     %s\n", t);
	}
	if (VF_GPU_HAS(g, VF_GPU_PCIE))
		fprintf(f, "  pcie         gen %u x%u\n", g->pcie_gen,
			g->pcie_width);
	if (!VF_GPU_HAS(g, VF_GPU_PROCESSES) && g->n_procs == 0) {
		fprintf(f, "  processes    unknown (the driver does not list "
			   "them)\n");
		return;
	}
	fprintf(f, "  processes%s\n", g->n_procs ? "" : "    none");
	for (unsigned i = 0; i < g->n_procs; i++) {
		const vf_gpu_process *p = &g->procs[i];
		fprintf(f, "    %8d  %-24s ", p->pid, p->name[0] ? p->name : "?");
		if (p->used_known)
			fprintf(f, "%8llu MiB\n", cli_mib(p->used_bytes));
		else
			fprintf(f, "%12s\n", "n/a");
	}
	if (g->procs_dropped)
		fprintf(f, "    ... and %u more\n", g->procs_dropped);
}

/* "brave: 361 MiB on GPU 0": memory a training run cannot have. */
static void warn_others(const vf_gpu_list *l)
{
	for (unsigned i = 0; i < l->n_gpus; i++)
		for (unsigned j = 0; j < l->gpus[i].n_procs; j++) {
			const vf_gpu_process *p = &l->gpus[i].procs[j];
			if (!p->used_known || p->used_bytes == 0)
				continue;
			fprintf(stderr,
				"vramfit: warning: %s: %llu MiB on GPU %u\n",
				p->name[0] ? p->name : "?",
				cli_mib(p->used_bytes), l->gpus[i].index);
		}
}

static int json_error(const char *message)
{
	json_t *o = json_pack("{s:i,s:n,s:[],s:s}", "schema_version", 1,
			      "driver_version", "gpus", "error", message);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	puts(s);
	free(s);
	json_decref(o);
	return EXIT_RUNTIME;
}

/* The built-in GPU table, as --gpu and the speed model read it. */
static int list_known(void)
{
	printf("%-18s %-40s %9s %9s %9s\n", "GPU", "NAME", "MEMORY", "BF16 TF",
	       "GB/S");
	for (size_t i = 0; i < vf_gpu_spec_count(); i++) {
		vf_gpu_spec g;
		vf_error err;
		if (vf_gpu_spec_at(i, &g, &err))
			return cli_report(&err);
		char tf[16] = "-";
		if (g.bf16_tflops > 0)
			snprintf(tf, sizeof tf, "%.1f", g.bf16_tflops);
		printf("%-18s %-40.40s %5llu MiB %9s %9.0f\n", g.id, g.name,
		       (unsigned long long)(g.memory_bytes >> 20), tf,
		       g.bandwidth_gbs);
	}
	return EXIT_OK;
}

int cmd_gpus(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, 0, 'j'},
					     {"known", no_argument, 0, 'k'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	bool json = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'k':
			return list_known();
		case 'h':
			help();
			return EXIT_OK;
		default:
			return cli_usage_error("gpus: unknown option \"%s\"",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("gpus: unexpected argument \"%s\"",
				       argv[optind]);

	vf_gpu_list *l = malloc(sizeof *l);
	if (!l)
		return cli_usage_error("out of memory"), EXIT_RUNTIME;
	vf_error err;
	int rc = EXIT_OK;
	if (vf_gpus_detect(l, &err)) {
		rc = json ? json_error(err.message) : cli_gpu_error(&err);
		goto out;
	}
	if (json) {
		char *s = vf_gpu_list_to_json(l);
		if (!s) {
			rc = EXIT_RUNTIME;
			goto out;
		}
		if (l->n_gpus == 0) {
			/* the list as usual, plus why there is nothing in it */
			json_t *o = json_loads(s, 0, NULL);
			free(s);
			json_object_set_new(o, "error", json_string("no GPU visible"));
			s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(o);
			rc = EXIT_RUNTIME;
		}
		puts(s);
		free(s);
		goto out;
	}
	if (l->n_gpus == 0) {
		fprintf(stderr, "vramfit: no GPU visible%s; without a GPU, give "
				"its memory with --vram N\n",
			l->filtered ? " (CUDA_VISIBLE_DEVICES hides all)" : "");
		rc = EXIT_RUNTIME;
		goto out;
	}
	printf("driver %s, %u GPU%s", l->driver_version[0] ? l->driver_version :
							   "unknown",
	       l->n_gpus, l->n_gpus == 1 ? "" : "s");
	if (l->filtered)
		printf(" of %u (CUDA_VISIBLE_DEVICES)", l->nvml_count);
	printf("\n\n");
	for (unsigned i = 0; i < l->n_gpus; i++) {
		print_gpu(&l->gpus[i], stdout);
		if (i + 1 < l->n_gpus)
			putchar('\n');
	}
	if (!l->order_exact)
		fprintf(stderr, "vramfit: note: GPUs of different models: CUDA's "
				"default order may differ from this PCI order; "
				"set CUDA_DEVICE_ORDER=PCI_BUS_ID\n");
	warn_others(l);
out:
	free(l);
	if (fflush(stdout) || ferror(stdout))
		rc = EXIT_RUNTIME;
	return rc;
}
