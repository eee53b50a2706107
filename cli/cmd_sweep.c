/* cmd_sweep.c - `vramfit sweep`: memory, fit and speed as one knob varies. */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { O_JSON = 1, O_CSV, O_VARY, O_VALUES, O_BUDGET, O_EFFECTIVE, O_HELP };

#define MAX_POINTS 64

/* The knobs that can vary and their default values. */
typedef enum knob { K_SEQ, K_LORA_R, K_BATCH, K_MODEL, K_COUNT } knob;
static const struct {
	const char *name;
	const char *defaults; /* comma list; NULL: derived */
} knobs[K_COUNT] = {
	[K_SEQ] = {"seq", "512,1024,2048,4096,8192"},
	[K_LORA_R] = {"lora-r", "4,8,16,32,64"},
	[K_BATCH] = {"batch", NULL},  /* micro-batches dividing the batch */
	[K_MODEL] = {"model", NULL},  /* built-ins of the same family */
};

static void help(void)
{
	printf("usage: vramfit sweep --vary seq|lora-r|batch|model --model NAME\n"
	       "                     [--values V,V,...] [RUN FLAGS]\n"
	       "                     [--vram SIZE|auto | --gpu NAME] [--json | --csv]\n\n"
	       "One row per value of one knob, the rest fixed: predicted peak\n"
	       "allocated, reserved and process memory, whether it fits the budget,\n"
	       "and the estimated speed (with --gpu).\n\n"
	       "  --vary seq             512 ... 8192 tokens\n"
	       "  --vary lora-r          4 ... 64\n"
	       "  --vary batch           micro-batch x accumulation pairs with the\n"
	       "                         same effective batch (--effective-batch, 16)\n"
	       "  --vary model           the built-in models of the same family\n"
	       "                         (organisation and model type), by size\n"
	       "  --values V,V,...       the values instead of the defaults\n%s"
	       "  --json | --csv         machine-readable rows\n\n%s",
	       cli_budget_help, cli_run_help);
}

typedef struct point {
	char value[128];
	vf_model model;
	vf_estimate est;
	vf_speed speed;
	bool fits, have_speed;
} point;

/* Models of the same organisation and model_type as `m`, by size. */
static unsigned family(const vf_model *m, char names[][128], unsigned max)
{
	const char *slash = strchr(m->name, '/');
	size_t org = slash ? (size_t)(slash - m->name) : 0;
	unsigned n = 0;
	uint64_t sizes[MAX_POINTS];
	for (size_t i = 0; i < vf_builtin_model_count() && n < max; i++) {
		vf_model other;
		vf_error err;
		const char *name = vf_builtin_model_name(i);
		if (strncmp(name, m->name, org) != 0 ||
		    vf_builtin_model(&other, name, &err) ||
		    strcmp(other.arch.model_type, m->arch.model_type) != 0)
			continue;
		/* insertion by parameter count */
		unsigned k = n++;
		while (k > 0 && sizes[k - 1] > other.params.total) {
			sizes[k] = sizes[k - 1];
			memcpy(names[k], names[k - 1], 128);
			k--;
		}
		sizes[k] = other.params.total;
		vf_strlcpy_cli(names[k], name, 128);
	}
	return n;
}

static int fill_values(knob k, const char *values, const cli_run_spec *spec,
		       uint32_t effective, char out[][128], unsigned *n)
{
	*n = 0;
	if (values || knobs[k].defaults) {
		char list[1024];
		vf_strlcpy_cli(list, values ? values : knobs[k].defaults, sizeof list);
		for (char *save, *v = strtok_r(list, ",", &save); v;
		     v = strtok_r(NULL, ",", &save)) {
			if (*n == MAX_POINTS)
				return cli_usage_error("--values: at most %d", MAX_POINTS);
			vf_strlcpy_cli(out[(*n)++], v, 128);
		}
	} else if (k == K_BATCH) {
		for (uint32_t b = 1; b <= effective && *n < MAX_POINTS; b++)
			if (effective % b == 0)
				snprintf(out[(*n)++], 128, "%u", b);
	} else {
		*n = family(&spec->model_value, out, MAX_POINTS);
	}
	if (*n == 0)
		return cli_usage_error("--values: nothing to sweep");
	return EXIT_OK;
}

/* Applies one value of the knob to a copy of the run (and model). */
static int apply(knob k, const char *value, uint32_t effective, bool offline,
		 vf_run *r, vf_model *m)
{
	uint32_t u;
	char flag[16];
	snprintf(flag, sizeof flag, "--%s", knobs[k].name);
	switch (k) {
	case K_SEQ:
		if (!cli_parse_u32("--values", value, 1, 524288, &u))
			return EXIT_USAGE;
		r->seq_len = u;
		return EXIT_OK;
	case K_LORA_R:
		if (!cli_parse_u32("--values", value, 1, 65536, &u))
			return EXIT_USAGE;
		r->lora.r = u;
		if (r->method == VF_METHOD_UNSET || r->method == VF_METHOD_FULL)
			r->method = VF_METHOD_LORA;
		return EXIT_OK;
	case K_BATCH:
		if (!cli_parse_u32("--values", value, 1, 4096, &u))
			return EXIT_USAGE;
		if (effective % u)
			return cli_usage_error("--values: micro-batch %u does not "
					       "divide the effective batch %u",
					       u, effective);
		r->micro_batch = u;
		r->grad_accum = effective / u;
		return EXIT_OK;
	case K_MODEL:
		return cli_load_model_from(value, offline, m);
	default:
		return EXIT_USAGE;
	}
}

int cmd_sweep(int argc, char **argv)
{
	static const struct option own[] = {
		{"json", no_argument, 0, O_JSON},
		{"csv", no_argument, 0, O_CSV},
		{"vary", required_argument, 0, O_VARY},
		{"values", required_argument, 0, O_VALUES},
		CLI_BUDGET_OPTIONS(O_BUDGET),
		{"effective-batch", required_argument, 0, O_EFFECTIVE},
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	struct option opts[80];
	cli_run_options_with(opts, VF_CLI_LEN(opts), own);

	cli_run_spec spec;
	cli_run_spec_init(&spec);
	cli_budget bud;
	cli_budget_init(&bud);
	bool json = false, csv = false;
	const char *values = NULL;
	knob k = K_COUNT;
	uint32_t effective = 16;
	int c, index = 0, status;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, &index)) != -1) {
		if (cli_run_flag(&spec, c, optarg, &status)) {
			if (status)
				return status;
			continue;
		}
		switch (c) {
		case O_JSON: json = true; break;
		case O_CSV: csv = true; break;
		case O_VALUES: values = optarg; break;
		case O_VARY:
			for (k = 0; k < K_COUNT; k++)
				if (strcmp(knobs[k].name, optarg) == 0)
					break;
			if (k == K_COUNT)
				return cli_usage_error("--vary: \"%s\" is not seq, "
						       "lora-r, batch or model", optarg);
			break;
		case O_BUDGET:
			cli_budget_flag(&bud, opts[index].name, optarg, &status);
			if (status)
				return status;
			break;
		case O_EFFECTIVE:
			if (!cli_parse_u32("--effective-batch", optarg, 1, 65536,
					   &effective))
				return EXIT_USAGE;
			break;
		case 'h':
		case O_HELP: help(); return EXIT_OK;
		default:
			return cli_usage_error("sweep: unknown option \"%s\" (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("sweep: unexpected argument \"%s\"", argv[optind]);
	if (k == K_COUNT)
		return cli_usage_error("sweep: give the knob to vary (--vary seq, "
				       "lora-r, batch or model)");
	if (json && csv)
		return cli_usage_error("sweep: --json or --csv, not both");
	if ((status = cli_run_finish(&spec)) || (status = cli_budget_resolve(&bud)))
		return status;
	if (bud.have_spec && !spec.run.gpu_name[0])
		vf_strlcpy_cli(spec.run.gpu_name, bud.spec.id, sizeof spec.run.gpu_name);

	static char names[MAX_POINTS][128];
	unsigned n_points;
	if ((status = fill_values(k, values, &spec, effective, names, &n_points)))
		return status;
	point *pts = calloc(n_points, sizeof *pts);
	if (!pts)
		return cli_usage_error("out of memory");
	for (unsigned i = 0; i < n_points && !status; i++) {
		point *p = &pts[i];
		vf_run r = spec.run;
		p->model = spec.model_value;
		vf_strlcpy_cli(p->value, names[i], sizeof p->value);
		if ((status = apply(k, names[i], effective, spec.offline, &r,
				     &p->model)))
			break;
		vf_error err;
		if (vf_estimate_run(&p->model, &r, &p->est, &err)) {
			fprintf(stderr, "vramfit: sweep: %s=%s: %s\n", knobs[k].name,
				names[i], err.message);
			status = cli_exit_for(err.status);
			break;
		}
		p->fits = !bud.capacity || p->est.peak_process <= bud.budget;
		p->have_speed = vf_speed_estimate(&p->model, &p->est,
						  bud.have_spec ? &bud.spec : NULL,
						  &p->speed, &err) == VF_OK;
	}
	if (status) {
		free(pts);
		return status;
	}

	const char *verdict = bud.capacity ? "fits" : "";
	if (json) {
		json_t *rows = json_array();
		for (unsigned i = 0; i < n_points; i++) {
			const point *p = &pts[i];
			json_array_append_new(rows, json_pack(
				"{s:s,s:I,s:I,s:I,s:s,s:b,s:f}", "value", p->value,
				"allocated_bytes", (json_int_t)p->est.peak_allocated,
				"reserved_bytes", (json_int_t)p->est.peak_reserved,
				"process_bytes", (json_int_t)p->est.peak_process,
				"phase", vf_phase_name(p->est.peak_phase),
				"fits", p->fits, "tokens_per_second",
				p->have_speed ? p->speed.tokens_per_second : 0.0));
		}
		json_t *o = json_pack("{s:i,s:s,s:I,s:o}", "schema_version", 1,
				      "vary", knobs[k].name, "budget_bytes",
				      (json_int_t)bud.budget, "rows", rows);
		char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
						       JSON_REAL_PRECISION(6))
			       : NULL;
		json_decref(o);
		free(pts);
		if (!text)
			return cli_usage_error("out of memory");
		printf("%s\n", text);
		free(text);
		return EXIT_OK;
	}
	if (csv)
		printf("%s,allocated_bytes,reserved_bytes,process_bytes,phase,fits,"
		       "tokens_per_second\n", knobs[k].name);
	else
		printf("%-34s %11s %11s %11s  %-14s %4s %11s\n", knobs[k].name,
		       "ALLOCATED", "RESERVED", "PROCESS", "PEAK PHASE", verdict,
		       bud.have_spec ? "TOKENS/S" : "TOKENS/S*");
	for (unsigned i = 0; i < n_points; i++) {
		const point *p = &pts[i];
		const vf_estimate *e = &p->est;
		const char *phase = vf_phase_name(e->peak_phase);
		if (csv)
			printf("%s,%llu,%llu,%llu,%s,%s,%.1f\n", p->value,
			       (unsigned long long)e->peak_allocated,
			       (unsigned long long)e->peak_reserved,
			       (unsigned long long)e->peak_process, phase,
			       p->fits ? "true" : "false",
			       p->have_speed ? p->speed.tokens_per_second : 0);
		else {
			char a[32], r[32], pr[32], v[48];
			if (k == K_BATCH)
				snprintf(v, sizeof v, "%s x %u", p->value,
					 effective / (uint32_t)atoi(p->value));
			else
				snprintf(v, sizeof v, "%s", p->value);
			printf("%-34s %11s %11s %11s  %-14s %4s %11.0f\n", v,
			       vf_format_bytes(e->peak_allocated, a, sizeof a),
			       vf_format_bytes(e->peak_reserved, r, sizeof r),
			       vf_format_bytes(e->peak_process, pr, sizeof pr), phase,
			       !bud.capacity ? "" : p->fits ? "yes" : "no",
			       p->have_speed ? p->speed.tokens_per_second : 0);
		}
	}
	if (!csv && !bud.have_spec)
		printf("* relative speeds: name the GPU (--gpu) for estimates of it\n");
	free(pts);
	return EXIT_OK;
}
