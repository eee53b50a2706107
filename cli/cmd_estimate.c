/* cmd_estimate.c - `vramfit estimate`: the memory of one training run. */
#include "cli.h"

#include <jansson.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { O_JSON = 1, O_EXPLAIN, O_BUDGET, O_HELP };

static void help(void)
{
	printf("usage: vramfit estimate --model NAME|PATH [RUN FLAGS]\n"
	       "                        [--vram SIZE|auto | --gpu NAME]\n"
	       "                        [--safety-margin MiB] [--json] [--explain]\n\n"
	       "Predicts the peak GPU memory of one training run per GPU, at the\n"
	       "three levels people see: PyTorch's peak allocated, peak reserved,\n"
	       "and the process total nvidia-smi shows; the phase of the peak; and,\n"
	       "with --vram or --gpu, whether it fits.\n\n%s"
	       "  --json                 machine-readable result (docs/json-schema.md)\n"
	       "  --explain              the formula and inputs of every line\n\n%s\n"
	       "exit status: 0 fits (or no budget given), 1 does not fit, 2 bad input,\n"
	       "3 runtime failure.\n", cli_budget_help, cli_run_help);
}

static void print_table(const vf_model *m, const vf_estimate *e, bool explain)
{
	FILE *o = stdout;
	const char *bold = cli_color(o, "\033[1m"), *dim = cli_color(o, "\033[2m"),
		   *reset = cli_color(o, "\033[0m");
	char b[32], d[32];
	const vf_run *r = &e->run;
	char targets[128] = "";
	if (r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA ||
	    r->method == VF_METHOD_DORA)
		vf_targets_format(r->lora.targets, targets, sizeof targets);
	printf("%s%s%s  %s parameters (%s trainable)\n", bold, m->name, reset,
	       cli_group_digits(m->params.total, b, sizeof b),
	       cli_group_digits(e->params_trainable, d, sizeof d));
	printf("%s%s %s%s%s, %s, batch %u x seq %u, accum %u, ckpt %s, %s attention, "
	       "%s, %s%s\n",
	       dim, vf_method_name(r->method),
	       r->quant ? vf_quant_name(r->quant) : "",
	       r->quant ? " " : "", vf_precision_name(r->precision),
	       vf_optimizer_name(r->optimizer), r->micro_batch, r->seq_len,
	       r->grad_accum, vf_ckpt_name(r->grad_ckpt),
	       vf_attention_name(r->attention), vf_framework_name(r->framework),
	       r->n_gpus > 1 ? vf_strategy_name(r->strategy) : "1 GPU", reset);
	if (targets[0])
		printf("%sLoRA r=%u on %s, dropout %.2g%s\n", dim, r->lora.r, targets,
		       r->lora.dropout, reset);
	printf("\n%-26s %12s %7s\n", "COMPONENT (at the peak)", "SIZE", "SHARE");
	uint64_t total = e->peak_process;
	for (int i = 0; i < VF_COMP_COUNT; i++) {
		uint64_t v = e->component[i];
		if (!v)
			continue;
		printf("%-26s %12s %6.1f%%\n", vf_component_name((vf_component)i),
		       vf_format_bytes(v, b, sizeof b),
		       total ? 100.0 * (double)v / (double)total : 0);
	}
	printf("\n%-26s %12s\n", "PHASE", "ALLOCATED");
	for (int i = 0; i < VF_PHASE_COUNT; i++) {
		if (!e->phase_allocated[i])
			continue;
		printf("%-26s %12s%s\n", vf_phase_name((vf_phase)i),
		       vf_format_bytes(e->phase_allocated[i], b, sizeof b),
		       (vf_phase)i == e->peak_phase ? "  <- peak" : "");
	}
	printf("\n%-26s %12s\n", "peak allocated", vf_format_bytes(e->peak_allocated, b, sizeof b));
	printf("%-26s %12s\n", "peak reserved", vf_format_bytes(e->peak_reserved, b, sizeof b));
	printf("%s%-26s %12s%s\n", bold, "process (nvidia-smi)",
	       vf_format_bytes(e->peak_process, b, sizeof b), reset);
	if (e->host_bytes)
		printf("%-26s %12s\n", "host RAM for offload",
		       vf_format_bytes(e->host_bytes, b, sizeof b));
	/* what dominates the peak */
	int top = 0;
	for (int i = 1; i < VF_COMP_COUNT; i++)
		if (e->component[i] > e->component[top])
			top = i;
	printf("\nThe peak is in the %s phase; %s dominate%s it.\n",
	       vf_phase_name(e->peak_phase), vf_component_name((vf_component)top),
	       top == VF_COMP_WEIGHTS || top == VF_COMP_GRADIENTS ||
			       top == VF_COMP_ACTIVATIONS || top == VF_COMP_ADAPTERS
		       ? ""
		       : "s");
	if (explain) {
		printf("\nTERMS (T=%llu tokens per micro-batch, h=%llu, I=%llu, V=%llu, "
		       "L=%llu, a=%llu, kv=%llu, d=%llu)\n",
		       (unsigned long long)e->tokens,
		       (unsigned long long)m->arch.hidden_size,
		       (unsigned long long)m->arch.intermediate_size,
		       (unsigned long long)m->arch.vocab_size,
		       (unsigned long long)m->arch.num_layers,
		       (unsigned long long)m->arch.num_heads,
		       (unsigned long long)m->arch.num_kv_heads,
		       (unsigned long long)m->arch.head_dim);
		for (unsigned i = 0; i < e->n_terms; i++)
			printf("  %-32s %12s  %s\n", e->terms[i].label,
			       vf_format_bytes(e->terms[i].bytes, b, sizeof b),
			       e->terms[i].formula);
		printf("See docs/memory-model.md for the source of every constant.\n");
	}
}

/* model.source in --json: where the model came from (docs/models.md).
 * Returns a new text, or NULL to print the original. */
static char *with_source(const char *text, const cli_run_spec *spec)
{
	json_t *o = json_loads(text, 0, NULL);
	json_t *model = o ? json_object_get(o, "model") : NULL;
	if (!json_is_object(model)) {
		json_decref(o);
		return NULL;
	}
	json_t *src = json_object();
	const vf_source_info *i = &spec->source;
	if (!spec->have_source) {
		json_object_set_new(src, "kind", json_string("dimensions"));
	} else {
		json_object_set_new(src, "kind",
				    json_string(vf_source_kind_name(i->kind)));
		json_object_set_new(src, "location", i->location[0]
			? json_string(i->location) : json_null());
		json_object_set_new(src, "revision", i->revision[0]
			? json_string(i->revision) : json_null());
		json_object_set_new(src, "safetensors_shards",
				    json_integer(i->n_shards));
		json_object_set_new(src, "params_from_headers",
				    json_boolean(i->params_from_headers));
		json_object_set_new(src, "prequantized", i->prequant
			? json_string(vf_prequant_name(i->prequant)) : json_null());
		json_t *dt = json_array();
		for (unsigned k = 0; k < i->n_dtypes; k++) {
			json_t *d = json_object();
			json_object_set_new(d, "dtype", json_string(i->dtypes[k].dtype));
			json_object_set_new(d, "tensors", json_integer((json_int_t)i->dtypes[k].tensors));
			json_object_set_new(d, "bytes", json_integer((json_int_t)i->dtypes[k].bytes));
			json_array_append_new(dt, d);
		}
		json_object_set_new(src, "stored_dtypes", dt);
	}
	json_object_set_new(model, "source", src);
	char *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}

/* The least costly change of levers that fits (vramfit check's search),
 * as flags to add; else a pointer to plan. */
static void suggest(const vf_model *m, const vf_run *run, uint64_t budget,
		    const vf_gpu_spec *gpu)
{
	vf_check *chk = malloc(sizeof *chk);
	vf_error err;
	if (chk && vf_check_run(m, run, budget, gpu, chk, &err) == VF_OK &&
	    chk->have_fix) {
		char b[32];
		printf("Smallest change that fits (%s): add",
		       chk->fix_tier == VF_TIER_SAME_TRAINING
			       ? "same training"
			       : chk->fix_tier == VF_TIER_NUMERICS
					 ? "changes numerics"
					 : "changes what is trained");
		cli_print_lever_flags(chk->fix_levers, &chk->fix_est.run);
		printf(" (%s)\n", vf_format_bytes(chk->fix_est.peak_process, b,
						  sizeof b));
	}
	free(chk);
	printf("`vramfit plan` with the same model and budget finds the "
	       "fastest configuration that fits.\n");
}

int cmd_estimate(int argc, char **argv)
{
	static const struct option own[] = {
		{"json", no_argument, 0, O_JSON},
		{"explain", no_argument, 0, O_EXPLAIN},
		CLI_BUDGET_OPTIONS(O_BUDGET),
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	struct option opts[80];
	cli_run_options_with(opts, VF_CLI_LEN(opts), own);

	cli_run_spec spec;
	cli_run_spec_init(&spec);
	bool json = false, explain = false;
	cli_budget bud;
	cli_budget_init(&bud);
	int c, status, index = 0;
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
		case O_EXPLAIN: explain = true; break;
		case O_BUDGET:
			cli_budget_flag(&bud, opts[index].name, optarg, &status);
			if (status)
				return status;
			break;
		case 'h':
		case O_HELP: help(); return EXIT_OK;
		case ':':
			return cli_usage_error("estimate: %s needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("estimate: unknown option \"%s\" "
					       "(see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("estimate: unexpected argument \"%s\"",
				       argv[optind]);
	if ((status = cli_run_finish(&spec)))
		return status;

	if ((status = cli_budget_resolve(&bud)))
		return status;
	if (bud.have_spec && !spec.run.gpu_name[0])
		vf_strlcpy_cli(spec.run.gpu_name, bud.spec.id,
			       sizeof spec.run.gpu_name);

	vf_estimate e;
	vf_error err;
	if (vf_estimate_run(&spec.model_value, &spec.run, &e, &err)) {
		fprintf(stderr, "vramfit: estimate: %s\n", err.message);
		return cli_exit_for(err.status);
	}
	vf_verdict verdict;
	uint64_t margin = (uint64_t)bud.margin_mib << 20;
	if (bud.capacity && vf_verdict_compute(&e, bud.capacity, margin,
					       &verdict, &err))
		return cli_report(&err);
	const vf_verdict *v = bud.capacity ? &verdict : NULL;
	bool fits = !v || v->fits;
	if (json) {
		char *s = vf_estimate_to_json_verdict(&spec.model_value, &e, v);
		if (!s)
			return cli_usage_error("out of memory");
		char *with = with_source(s, &spec);
		printf("%s\n", with ? with : s);
		free(with);
		free(s);
	} else {
		print_table(&spec.model_value, &e, explain);
		if (v) {
			char b[32], cap[32], h[32], hr[32];
			uint64_t head = (uint64_t)(v->headroom_bytes < 0
				? -v->headroom_bytes : v->headroom_bytes);
			const char *col = cli_color(stdout, fits ? "\033[32m" : "\033[31m");
			printf("\n%s%s%s: %s of a %s budget (%s after a %u MiB "
			       "safety margin), headroom %s%s\n",
			       col, fits ? "FITS" : "DOES NOT FIT",
			       cli_color(stdout, "\033[0m"),
			       vf_format_bytes(e.peak_process, b, sizeof b),
			       vf_format_bytes(v->capacity_bytes, cap, sizeof cap),
			       vf_format_bytes(v->budget_bytes, h, sizeof h),
			       bud.margin_mib, v->headroom_bytes < 0 ? "-" : "",
			       vf_format_bytes(head, hr, sizeof hr));
			if (bud.note[0])
				printf("%s\n", bud.note);
			if (!fits)
				suggest(&spec.model_value, &e.run, v->budget_bytes,
					bud.have_spec ? &bud.spec : NULL);
		}
	}
	return fits ? EXIT_OK : EXIT_DOES_NOT_FIT;
}
