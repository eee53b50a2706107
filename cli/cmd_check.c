/*
 * cmd_check.c - `vramfit check CONFIG`: read a HF/TRL, axolotl or DeepSpeed
 * training config, say whether it fits, list the memory levers and, when
 * it does not fit, print the smallest change in the file's own keys.
 */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { O_JSON = 1, O_FORMAT, O_BUDGET, O_HELP };

static void help(void)
{
	printf("usage: vramfit check CONFIG [--model M] [--format hf|axolotl|deepspeed]\n"
	       "                     [--vram SIZE|auto | --gpu NAME] [--json] [run flags]\n\n"
	       "Reads a training config (HF TrainingArguments / TRL config with its\n"
	       "LoraConfig and BitsAndBytesConfig, an axolotl YAML, a DeepSpeed JSON;\n"
	       "YAML or JSON), predicts its peak memory per GPU, lists the memory\n"
	       "levers and, when it does not fit, the change that does, from the\n"
	       "cheapest kind first: the same training (micro-batch, checkpointing),\n"
	       "then numerics (8-bit optimizer, bf16, 4-bit base), then what is\n"
	       "trained (sequence length, LoRA rank, as few steps as possible);\n"
	       "the fastest within a kind.\n"
	       "Unknown keys are reported on stderr. Run flags (vramfit estimate\n"
	       "--help) override the file.\n\n"
	       "  --model M              the model when the file names none (DeepSpeed)\n"
	       "  --format F             hf, axolotl or deepspeed (default: from the keys)\n"
	       "%s"
	       "  --json                 machine-readable result (docs/check.md)\n\n"
	       "Exit status: 0 fits (or no budget), 1 does not fit, 2 bad input.\n",
	       cli_budget_help);
}

static const char *const tier_names[] = {
	[VF_TIER_SAME_TRAINING] = "keeps the training the same",
	[VF_TIER_NUMERICS] = "changes numerics",
	[VF_TIER_WHAT_IS_TRAINED] = "changes what is trained",
};

static void print_text(const char *path, const vf_train_config *cfg,
		       const vf_model *m, const vf_check *c,
		       const cli_budget *bud)
{
	char b1[32], b2[32], b3[32];
	const vf_run *r = &c->est.run;
	printf("%s (%s): %s, %s%s%s %s, batch %u x %u, seq %u", path,
	       vf_config_format_name(cfg->format), m->name,
	       vf_method_name(r->method), r->quant ? " " : "",
	       r->quant ? vf_quant_name(r->quant) : "",
	       vf_precision_name(r->precision), r->micro_batch, r->grad_accum,
	       r->seq_len);
	if (r->n_gpus > 1)
		printf(", %u GPUs %s", r->n_gpus, vf_strategy_name(r->strategy));
	if (r->offload)
		printf(", %s offloaded", vf_offload_name(r->offload));
	printf("\n");
	printf("peak allocated %s, reserved %s, process %s, in the %s phase\n",
	       vf_format_bytes(c->est.peak_allocated, b1, sizeof b1),
	       vf_format_bytes(c->est.peak_reserved, b2, sizeof b2),
	       vf_format_bytes(c->est.peak_process, b3, sizeof b3),
	       vf_phase_name(c->est.peak_phase));
	if (c->est.host_bytes)
		printf("host RAM for offload %s (all GPUs)\n",
		       vf_format_bytes(c->est.host_bytes, b1, sizeof b1));
	if (c->budget_bytes) {
		int64_t head = (int64_t)c->budget_bytes - (int64_t)c->est.peak_process;
		const char *col = cli_color(stdout, c->fits ? "\033[32m" : "\033[31m");
		printf("%s%s%s: budget %s per GPU (%s - %u MiB safety margin), %s %s\n",
		       col, c->fits ? "FITS" : "DOES NOT FIT",
		       cli_color(stdout, "\033[0m"),
		       vf_format_bytes(c->budget_bytes, b1, sizeof b1),
		       vf_format_bytes(bud->capacity, b2, sizeof b2), bud->margin_mib,
		       head >= 0 ? "headroom" : "short by",
		       vf_format_bytes((uint64_t)(head >= 0 ? head : -head), b3,
				       sizeof b3));
		if (bud->note[0])
			printf("%s\n", bud->note);
	} else {
		printf("no budget given (--vram, --gpu): levers only\n");
	}

	printf("\n     %-38s %-18s %-16s %10s %7s\n", "LEVER", "NOW", "STEP",
	       "SAVES", "SPEED");
	for (int i = 0; i < VF_LEVER_COUNT; i++) {
		const vf_lever_state *l = &c->levers[i];
		const char *mark = !l->applicable ? "n/a" : l->at_limit ? "[x]"
									: "[ ]";
		if (!l->applicable) {
			printf(" %-3s %-38s -\n", mark, vf_lever_name(i));
			continue;
		}
		if (l->at_limit) {
			printf(" %-3s %-38s %-18s %s\n", mark, vf_lever_name(i),
			       l->current, "(at its limit)");
			continue;
		}
		char saves[32], speed[16];
		if (l->saves_bytes >= 0)
			vf_format_bytes((uint64_t)l->saves_bytes, saves, sizeof saves);
		else
			snprintf(saves, sizeof saves, "+%s",
				 vf_format_bytes((uint64_t)-l->saves_bytes, b1,
						 sizeof b1));
		snprintf(speed, sizeof speed, "%+.0f%%", (l->speed_ratio - 1) * 100);
		printf(" %-3s %-38s %-18s %-16s %10s %7s\n", mark, vf_lever_name(i),
		       l->current, l->next, saves, speed);
	}

	if (c->fits || !c->budget_bytes)
		return;
	if (!c->have_fix) {
		printf("\nNo combination of these levers fits; `vramfit plan` also "
		       "searches methods, ZeRO and offload.\n");
		return;
	}
	const vf_run *f = &c->fix_est.run;
	int64_t head = (int64_t)c->budget_bytes - (int64_t)c->fix_est.peak_process;
	printf("\nThe smallest change that fits (%s):\n", tier_names[c->fix_tier]);
	for (int i = 0; i < VF_LEVER_COUNT; i++)
		if (c->fix_levers & (1u << i))
			cli_print_lever_change((vf_lever)i, cfg->format, f, "  ");
	printf("  -> peak %s, headroom %s, %.0f tokens/s (%+.0f%%, estimate)\n",
	       vf_format_bytes(c->fix_est.peak_process, b1, sizeof b1),
	       vf_format_bytes((uint64_t)head, b2, sizeof b2),
	       c->fix_speed.tokens_per_second,
	       c->speed.tokens_per_second > 0
		       ? (c->fix_speed.tokens_per_second / c->speed.tokens_per_second - 1) * 100
		       : 0.0);
}

static json_t *peak_json(const vf_estimate *e)
{
	json_t *p = json_object();
	json_object_set_new(p, "allocated_bytes", json_integer((json_int_t)e->peak_allocated));
	json_object_set_new(p, "reserved_bytes", json_integer((json_int_t)e->peak_reserved));
	json_object_set_new(p, "process_bytes", json_integer((json_int_t)e->peak_process));
	json_object_set_new(p, "phase", json_string(vf_phase_name(e->peak_phase)));
	return p;
}

static json_t *run_json(const vf_run *r, const char *model)
{
	char *s = vf_run_to_json(r, model);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	free(s);
	return j ? j : json_null();
}

static int print_json(const char *path, const vf_train_config *cfg,
		      const vf_model *m, const vf_check *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "schema_version", json_integer(1));
	json_object_set_new(o, "file", json_string(path));
	json_object_set_new(o, "format", json_string(vf_config_format_name(cfg->format)));
	json_object_set_new(o, "model", json_string(m->name));
	json_object_set_new(o, "run", run_json(&c->est.run, m->name));
	json_object_set_new(o, "budget_bytes", c->budget_bytes
		? json_integer((json_int_t)c->budget_bytes) : json_null());
	json_object_set_new(o, "fits", c->budget_bytes ? json_boolean(c->fits)
						       : json_null());
	json_object_set_new(o, "peak", peak_json(&c->est));
	json_object_set_new(o, "tokens_per_second", json_real(c->speed.tokens_per_second));
	json_t *levers = json_array();
	for (int i = 0; i < VF_LEVER_COUNT; i++) {
		const vf_lever_state *l = &c->levers[i];
		json_t *j = json_object();
		json_object_set_new(j, "lever", json_string(vf_lever_name(i)));
		json_object_set_new(j, "applicable", json_boolean(l->applicable));
		json_object_set_new(j, "on", json_boolean(l->at_limit));
		json_object_set_new(j, "current", json_string(l->current));
		bool step = l->applicable && !l->at_limit;
		json_object_set_new(j, "step", step ? json_string(l->next) : json_null());
		json_object_set_new(j, "saves_bytes", step
			? json_integer((json_int_t)l->saves_bytes) : json_null());
		json_object_set_new(j, "speed_ratio", step ? json_real(l->speed_ratio)
							   : json_null());
		json_array_append_new(levers, j);
	}
	json_object_set_new(o, "levers", levers);
	if (c->have_fix) {
		json_t *fx = json_object();
		json_t *changes = json_array();
		for (int i = 0; i < VF_LEVER_COUNT; i++)
			if (c->fix_levers & (1u << i))
				json_array_append_new(changes, json_string(vf_lever_name(i)));
		json_object_set_new(fx, "levers", changes);
		json_object_set_new(fx, "tier", json_string(tier_names[c->fix_tier]));
		json_object_set_new(fx, "run", run_json(&c->fix_est.run, m->name));
		json_object_set_new(fx, "peak", peak_json(&c->fix_est));
		json_object_set_new(fx, "tokens_per_second",
				    json_real(c->fix_speed.tokens_per_second));
		json_object_set_new(o, "suggestion", fx);
	} else {
		json_object_set_new(o, "suggestion", json_null());
	}
	json_object_set_new(o, "evaluated_configs", json_integer((json_int_t)c->evaluated));
	json_t *unknown = json_array();
	for (unsigned i = 0; i < cfg->n_warnings; i++)
		json_array_append_new(unknown, json_string(cfg->warnings[i]));
	json_object_set_new(o, "warnings", unknown);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return cli_usage_error("out of memory");
	printf("%s\n", s);
	free(s);
	return EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
	static const struct option own[] = {
		{"json", no_argument, 0, O_JSON},
		{"format", required_argument, 0, O_FORMAT},
		CLI_BUDGET_OPTIONS(O_BUDGET),
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	struct option opts[80];
	cli_run_options_with(opts, VF_CLI_LEN(opts), own);

	cli_run_spec spec;
	cli_run_spec_init(&spec);
	cli_budget bud;
	cli_budget_init(&bud);
	bool json = false;
	vf_config_format format = VF_CONFIG_AUTO;
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
		case O_FORMAT:
			if (!vf_config_format_from_name(optarg, &format) ||
			    format == VF_CONFIG_AUTO)
				return cli_usage_error("--format: \"%s\" is not hf, "
						       "axolotl or deepspeed", optarg);
			break;
		case O_BUDGET:
			if (!cli_budget_flag(&bud, opts[index].name, optarg, &status))
				return EXIT_USAGE;
			if (status)
				return status;
			break;
		case 'h':
		case O_HELP: help(); return EXIT_OK;
		case ':':
			return cli_usage_error("check: %s needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("check: unknown option \"%s\" "
					       "(see --help)", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind == argc
			? "check: give the training config (vramfit check FILE)"
			: "check: one config at a time (extra \"%s\")",
			argv[optind + 1 < argc ? optind + 1 : optind]);
	const char *path = argv[optind];

	vf_train_config *cfg = malloc(sizeof *cfg);
	vf_check *chk = malloc(sizeof *chk);
	if (!cfg || !chk) {
		free(cfg), free(chk);
		return cli_usage_error("out of memory");
	}
	vf_error err;
	int rc = EXIT_OK;
	if (vf_train_config_load(cfg, path, format, &err)) {
		rc = cli_report(&err);
		goto done;
	}
	for (unsigned i = 0; i < cfg->n_warnings; i++)
		fprintf(stderr, "vramfit: %s\n", cfg->warnings[i]);
	if (cfg->n_warnings_total > cfg->n_warnings)
		fprintf(stderr, "vramfit: %s: %u more warnings\n", path,
			cfg->n_warnings_total - cfg->n_warnings);

	spec.base_run = &cfg->run;
	spec.base_model = cfg->model;
	if (!spec.model && !cfg->model[0] && !spec.custom) {
		rc = cli_usage_error("%s names no model (a %s file): give "
				     "--model NAME|PATH", path,
				     vf_config_format_name(cfg->format));
		goto done;
	}
	if ((rc = cli_run_finish(&spec)) || (rc = cli_budget_resolve(&bud)))
		goto done;
	if (bud.have_spec && !spec.run.gpu_name[0])
		vf_strlcpy_cli(spec.run.gpu_name, bud.spec.id,
			       sizeof spec.run.gpu_name);
	if (vf_check_run(&spec.model_value, &spec.run, bud.budget,
			 bud.have_spec ? &bud.spec : NULL, chk, &err)) {
		fprintf(stderr, "vramfit: check: %s: %s\n", path, err.message);
		rc = cli_exit_for(err.status);
		goto done;
	}
	if (json)
		rc = print_json(path, cfg, &spec.model_value, chk);
	else
		print_text(path, cfg, &spec.model_value, chk, &bud);
	if (!rc && !chk->fits)
		rc = EXIT_DOES_NOT_FIT;
done:
	free(cfg);
	free(chk);
	return rc;
}
