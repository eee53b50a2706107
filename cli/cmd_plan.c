/* cmd_plan.c - `vramfit plan`: the fastest configuration that fits. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

enum { O_JSON = 1, O_BUDGET, O_EFFECTIVE, O_MAX_SEQ, O_MIN_SEQ, O_PREFER,
       O_NO_QUANT, O_HOST_RAM, O_EMIT, O_FORCE, O_SAMPLES, O_AVG_TOKENS,
       O_STEPS, O_HELP };

#define MAX_EMITS 8

static void help(void)
{
	printf("usage: vramfit plan --model NAME|PATH [--vram SIZE|auto | --gpu NAME]\n"
	       "                    [--gpus N | --gpus KIND,KIND...] [OPTIONS] [RUN FLAGS]\n\n"
	       "Finds the configuration that trains fastest while its predicted\n"
	       "peak (process memory, as nvidia-smi shows it) stays inside the\n"
	       "budget per GPU, keeping the effective batch. Searched: method\n"
	       "(full, LoRA, QLoRA) unless --method, precision, optimizer (AdamW,\n"
	       "8-bit, paged 8-bit), gradient checkpointing (off, every 4th, 2nd,\n"
	       "every layer), micro-batch x accumulation, the sequence length\n"
	       "(from --max-seq down by quarters to --min-seq until something fits),\n"
	       "ZeRO stage on several GPUs, CPU offload with --host-ram, and the\n"
	       "LoRA rank with --prefer quality. Every configuration is\n"
	       "estimated, except larger micro-batches after one that does not\n"
	       "fit (memory grows with the micro-batch); --json says how many.\n"
	       "Run flags pin a knob (--lora-r 16, --optim adamw, --method lora).\n\n%s"
	       "  --gpus KIND,KIND       a mixed box (rtx3090,rtx3080): data-parallel\n"
	       "                         replicas are bound by the smallest GPU\n"
	       "  --effective-batch N    samples per optimizer step, all GPUs (16)\n"
	       "  --max-seq N            sequence length wanted (default 2048)\n"
	       "  --min-seq N            shortest acceptable (default max-seq / 4)\n"
	       "  --prefer P             speed (default), context, quality\n"
	       "  --no-quant             never quantize the base model\n"
	       "  --host-ram SIZE|auto|none  host memory for CPU offload (default auto:\n"
	       "                         what the system has available now)\n"
	       "  --dataset-samples N --avg-tokens N   time per epoch\n"
	       "  --steps N              time for N optimizer steps\n"
	       "  --emit FORMAT[:FILE]   hf, deepspeed, accelerate, axolotl, run,\n"
	       "                         flags; to FILE (never overwritten without\n"
	       "                         --force) or stdout; repeatable\n"
	       "  --force                overwrite files given to --emit\n"
	       "  --json                 the whole result (docs/plan.md)\n\n%s\n"
	       "Speeds and times are estimates (docs/speed.md).\n"
	       "exit status: 0 a configuration fits, 1 none fits, 2 bad input.\n",
	       cli_budget_help, cli_run_help);
}

typedef struct plan_args {
	cli_run_spec spec;
	cli_budget budget;
	vf_plan_request req;
	const char *gpu_kinds;
	const char *host_ram;     /* --host-ram SIZE|auto|none; NULL: auto */
	bool host_ram_detected;
	bool json, force;
	const char *emit[MAX_EMITS];
	unsigned n_emit;
	uint64_t samples;
	uint32_t avg_tokens, steps;
} plan_args;

/* "--gpus rtx3090,rtx3080": the GPU count, and the smallest binds. */
static int mixed_gpus(plan_args *a)
{
	char list[256];
	vf_strlcpy_cli(list, a->gpu_kinds, sizeof list);
	unsigned n = 0;
	for (char *save, *k = strtok_r(list, ",", &save); k;
	     k = strtok_r(NULL, ",", &save), n++) {
		vf_gpu_spec g;
		vf_error err;
		if (vf_gpu_spec_find(k, &g, &err))
			return cli_usage_error("--gpus: %s", err.message);
		if (!a->budget.have_spec ||
		    g.memory_bytes < a->budget.spec.memory_bytes)
			a->budget.spec = g;
		a->budget.have_spec = true;
	}
	if (n == 0 || n > 1024)
		return cli_usage_error("--gpus: give 1 to 1024 GPU kinds");
	a->spec.run.n_gpus = n;
	a->budget.gpu = a->budget.spec.id;
	return EXIT_OK;
}

static int parse(int argc, char **argv, plan_args *a)
{
	static const struct option own[] = {
		{"json", no_argument, 0, O_JSON},
		CLI_BUDGET_OPTIONS(O_BUDGET),
		{"effective-batch", required_argument, 0, O_EFFECTIVE},
		{"max-seq", required_argument, 0, O_MAX_SEQ},
		{"min-seq", required_argument, 0, O_MIN_SEQ},
		{"prefer", required_argument, 0, O_PREFER},
		{"no-quant", no_argument, 0, O_NO_QUANT},
		{"host-ram", required_argument, 0, O_HOST_RAM},
		{"emit", required_argument, 0, O_EMIT},
		{"force", no_argument, 0, O_FORCE},
		{"dataset-samples", required_argument, 0, O_SAMPLES},
		{"avg-tokens", required_argument, 0, O_AVG_TOKENS},
		{"steps", required_argument, 0, O_STEPS},
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	struct option opts[80];
	cli_run_options_with(opts, VF_CLI_LEN(opts), own);
	int gpus_opt = 0;
	for (size_t i = 0; i < cli_run_options_len; i++)
		if (strcmp(cli_run_options[i].name, "gpus") == 0)
			gpus_opt = cli_run_options[i].val;

	a->req.effective_batch = 16;
	int c, index = 0, status;
	uint32_t u;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, &index)) != -1) {
		if (c == gpus_opt && strpbrk(optarg, "abcdefghijklmnopqrstuvwxyz"
						     "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
			a->gpu_kinds = optarg;
			continue;
		}
		if (cli_run_flag(&a->spec, c, optarg, &status)) {
			if (status)
				return status;
			continue;
		}
		switch (c) {
		case O_JSON: a->json = true; break;
		case O_FORCE: a->force = true; break;
		case O_NO_QUANT: a->req.no_quant = true; break;
		case O_BUDGET:
			cli_budget_flag(&a->budget, opts[index].name, optarg, &status);
			if (status)
				return status;
			break;
		case O_EFFECTIVE:
			if (!cli_parse_u32("--effective-batch", optarg, 1, 65536, &u))
				return EXIT_USAGE;
			a->req.effective_batch = u;
			break;
		case O_MAX_SEQ:
			if (!cli_parse_u32("--max-seq", optarg, 1, 524288, &u))
				return EXIT_USAGE;
			a->req.max_seq = u;
			break;
		case O_MIN_SEQ:
			if (!cli_parse_u32("--min-seq", optarg, 1, 524288, &u))
				return EXIT_USAGE;
			a->req.min_seq = u;
			break;
		case O_PREFER:
			if (!vf_prefer_from_name(optarg, &a->req.prefer))
				return cli_usage_error("--prefer: \"%s\" is not speed, "
						       "context or quality", optarg);
			break;
		case O_HOST_RAM:
			a->host_ram = optarg;
			break;
		case O_EMIT: {
			if (a->n_emit == MAX_EMITS)
				return cli_usage_error("--emit: at most %d", MAX_EMITS);
			char fmt[32];
			size_t len = strcspn(optarg, ":");
			if (len >= sizeof fmt)
				len = sizeof fmt - 1;
			memcpy(fmt, optarg, len);
			fmt[len] = '\0';
			if (!cli_emit_format_known(fmt))
				return cli_usage_error("--emit: unknown format \"%s\" "
						       "(hf, deepspeed, accelerate, "
						       "axolotl, run, flags)", fmt);
			if (optarg[len] == ':' && !optarg[len + 1])
				return cli_usage_error("--emit %s: no file after ':'",
						       optarg);
			a->emit[a->n_emit++] = optarg;
			break;
		}
		case O_SAMPLES:
			if (!cli_parse_u32("--dataset-samples", optarg, 1,
					   4000000000u, &u))
				return EXIT_USAGE;
			a->samples = u;
			break;
		case O_AVG_TOKENS:
			if (!cli_parse_u32("--avg-tokens", optarg, 1, 524288,
					   &a->avg_tokens))
				return EXIT_USAGE;
			break;
		case O_STEPS:
			if (!cli_parse_u32("--steps", optarg, 1, 100000000, &a->steps))
				return EXIT_USAGE;
			break;
		case 'h':
		case O_HELP: help(); exit(EXIT_OK);
		case ':':
			return cli_usage_error("plan: %s needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("plan: unknown option \"%s\" (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("plan: unexpected argument \"%s\"", argv[optind]);
	return EXIT_OK;
}

static void human_time(double s, char *buf, size_t size)
{
	if (s < 120)
		snprintf(buf, size, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, size, "%.0f min", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, size, "%.1f h", s / 3600);
	else
		snprintf(buf, size, "%.1f days", s / 86400);
}

static void print_option(const vf_model *m, const vf_plan_option *o,
			 const plan_args *a)
{
	const vf_run *r = &o->est.run;
	char b1[32], b2[32], b3[32], h[32], t[32];
	char lora[96] = "";
	if (r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA ||
	    r->method == VF_METHOD_DORA) {
		char targets[64];
		vf_targets_format(r->lora.targets, targets, sizeof targets);
		snprintf(lora, sizeof lora, ", LoRA r=%u on %s", r->lora.r, targets);
	}
	char ckpt[32];
	if (r->grad_ckpt == VF_CKPT_OFF)
		snprintf(ckpt, sizeof ckpt, "off");
	else if (r->ckpt_every > 1)
		snprintf(ckpt, sizeof ckpt, "every %u layers", r->ckpt_every);
	else
		snprintf(ckpt, sizeof ckpt, "every layer");
	printf("  method              %s%s%s%s\n", vf_method_name(r->method),
	       r->quant != VF_QUANT_NONE ? " " : "",
	       r->quant != VF_QUANT_NONE ? vf_quant_name(r->quant) : "", lora);
	printf("  precision           %s\n", vf_precision_name(r->precision));
	printf("  micro-batch         %u\n", r->micro_batch);
	printf("  grad accumulation   %u\n", r->grad_accum);
	printf("  effective batch     %u\n",
	       r->micro_batch * r->grad_accum * (r->n_gpus ? r->n_gpus : 1));
	printf("  sequence length     %u\n", r->seq_len);
	printf("  checkpointing       %s\n", ckpt);
	printf("  attention           %s\n", vf_attention_name(r->attention));
	printf("  optimizer           %s\n", vf_optimizer_name(r->optimizer));
	printf("  parallelism         %u GPU%s%s%s\n", r->n_gpus ? r->n_gpus : 1,
	       r->n_gpus > 1 ? "s" : "",
	       r->strategy != VF_STRATEGY_SINGLE ? ", " : "",
	       r->strategy != VF_STRATEGY_SINGLE ? vf_strategy_name(r->strategy)
						 : "");
	printf("  offload             %s\n", r->offload == VF_OFFLOAD_NONE
						     ? "none" : vf_offload_name(r->offload));
	int64_t head = o->headroom_bytes;
	printf("\n  peak allocated %s, reserved %s, process %s; %s %s\n",
	       vf_format_bytes(o->est.peak_allocated, b1, sizeof b1),
	       vf_format_bytes(o->est.peak_reserved, b2, sizeof b2),
	       vf_format_bytes(o->est.peak_process, b3, sizeof b3),
	       head >= 0 ? "headroom" : "short by",
	       vf_format_bytes((uint64_t)(head >= 0 ? head : -head), h, sizeof h));
	if (o->est.host_bytes)
		printf("  host RAM for offload %s of %s%s\n",
		       vf_format_bytes(o->est.host_bytes, b1, sizeof b1),
		       vf_format_bytes(a->req.host_ram_bytes, b2, sizeof b2),
		       a->host_ram_detected ? " available now" : " given");
	human_time(o->speed.step_seconds, t, sizeof t);
	printf("  speed (estimate)    %.0f tokens/s, %.2f samples/s, %s per step%s\n",
	       o->speed.tokens_per_second, o->speed.samples_per_second, t,
	       o->speed.peak_known ? "" : " (GPU peak unknown: relative only)");
	if (a->samples && a->avg_tokens) {
		human_time((double)a->samples * a->avg_tokens /
				   o->speed.tokens_per_second, t, sizeof t);
		printf("  epoch (estimate)    %s for %llu samples of %u tokens\n", t,
		       (unsigned long long)a->samples, a->avg_tokens);
	}
	if (a->steps) {
		human_time(a->steps * o->speed.step_seconds, t, sizeof t);
		printf("  %u steps (estimate) %s\n", a->steps, t);
	}
	(void)m;
}

static json_t *option_json(const vf_model *m, const vf_plan_option *o)
{
	json_t *j = json_object();
	json_error_t jerr;
	char *run = vf_run_to_json(&o->est.run, m->name);
	json_object_set_new(j, "run", run ? json_loads(run, 0, &jerr) : json_null());
	free(run);
	json_object_set_new(j, "fits", json_boolean(o->fits));
	json_object_set_new(j, "peak", json_pack(
		"{s:I,s:I,s:I,s:s}", "allocated_bytes", (json_int_t)o->est.peak_allocated,
		"reserved_bytes", (json_int_t)o->est.peak_reserved,
		"process_bytes", (json_int_t)o->est.peak_process,
		"phase", vf_phase_name(o->est.peak_phase)));
	json_object_set_new(j, "headroom_bytes", json_integer(o->headroom_bytes));
	json_object_set_new(j, "host_bytes", json_integer((json_int_t)o->est.host_bytes));
	json_object_set_new(j, "tokens_per_second", json_real(o->speed.tokens_per_second));
	json_object_set_new(j, "samples_per_second", json_real(o->speed.samples_per_second));
	json_object_set_new(j, "step_seconds", json_real(o->speed.step_seconds));
	json_object_set_new(j, "speed_is_relative", json_boolean(!o->speed.peak_known));
	if (o->reason[0])
		json_object_set_new(j, "reason", json_string(o->reason));
	return j;
}

static int print_json(const vf_model *m, const vf_plan *p, const plan_args *a,
		      double ms)
{
	json_t *o = json_object();
	json_object_set_new(o, "schema_version", json_integer(1));
	json_object_set_new(o, "model", json_string(m->name));
	json_object_set_new(o, "gpu", a->budget.have_spec
					      ? json_string(a->budget.spec.id)
					      : json_null());
	json_object_set_new(o, "budget_bytes", json_integer((json_int_t)a->req.budget_bytes));
	json_object_set_new(o, "host_ram_bytes",
			    a->req.host_ram_bytes
				    ? json_integer((json_int_t)a->req.host_ram_bytes)
				    : json_null());
	json_object_set_new(o, "host_ram_source",
			    json_string(a->host_ram_detected ? "detected"
					: a->req.host_ram_bytes ? "given"
								: "none"));
	json_object_set_new(o, "safety_margin_bytes",
			    json_integer((json_int_t)a->budget.margin_mib << 20));
	json_object_set_new(o, "effective_batch", json_integer(p->effective_batch));
	json_object_set_new(o, "prefer", json_string(vf_prefer_name(a->req.prefer)));
	json_object_set_new(o, "evaluated_configs", json_integer((json_int_t)p->evaluated));
	json_object_set_new(o, "pruned_configs", json_integer((json_int_t)p->pruned));
	json_object_set_new(o, "search_ms", json_real(ms));
	json_object_set_new(o, "fits", json_boolean(p->found));
	json_object_set_new(o, "chosen", p->found || p->chosen.est.peak_process
						 ? option_json(m, &p->chosen)
						 : json_null());
	json_t *alts = json_array();
	for (unsigned i = 0; i < p->n_alternatives; i++)
		json_array_append_new(alts, option_json(m, &p->alternatives[i]));
	json_object_set_new(o, "alternatives", alts);
	if (p->note[0])
		json_object_set_new(o, "note", json_string(p->note));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!s)
		return cli_usage_error("out of memory");
	printf("%s\n", s);
	free(s);
	return EXIT_OK;
}

static int emit_all(const vf_model *m, const vf_plan *p, const plan_args *a)
{
	for (unsigned i = 0; i < a->n_emit; i++) {
		const char *colon = strchr(a->emit[i], ':');
		char fmt[32];
		size_t len = colon ? (size_t)(colon - a->emit[i]) : strlen(a->emit[i]);
		snprintf(fmt, sizeof fmt, "%.*s", (int)len, a->emit[i]);
		char *text = cli_emit(fmt, m, &p->chosen.est.run);
		if (!text)
			return cli_usage_error("out of memory");
		int rc = EXIT_OK;
		if (colon)
			rc = cli_write_file(colon + 1, text, a->force);
		else
			fputs(text, stdout);
		free(text);
		if (rc)
			return rc;
	}
	return EXIT_OK;
}

/* --host-ram: a size, "none" (no offload), or "auto" (the default): the
 * memory the system has available now, so that an offloaded plan does not
 * swap. */
static int host_ram(plan_args *a)
{
	const char *v = a->host_ram ? a->host_ram : "auto";
	vf_error err;
	if (strcmp(v, "none") == 0) {
		a->req.host_ram_bytes = 0;
	} else if (strcmp(v, "auto") == 0) {
		/* not detectable: offload is not searched, as with none */
		a->host_ram_detected =
			cli_host_ram_available(&a->req.host_ram_bytes);
	} else if (vf_parse_size(v, &a->req.host_ram_bytes, &err)) {
		return cli_usage_error("--host-ram: %s", err.message);
	}
	return EXIT_OK;
}

int cmd_plan(int argc, char **argv)
{
	plan_args a;
	memset(&a, 0, sizeof a);
	cli_run_spec_init(&a.spec);
	cli_budget_init(&a.budget);
	int status = parse(argc, argv, &a);
	if (status)
		return status;
	if (a.gpu_kinds && (status = mixed_gpus(&a)))
		return status;
	if ((status = cli_run_finish(&a.spec)))
		return status;
	if ((status = cli_budget_resolve(&a.budget)))
		return status;
	if (!a.budget.capacity)
		return cli_usage_error("plan: give the memory per GPU (--vram 24, "
				       "--vram auto or --gpu rtx3090)");

	if ((status = host_ram(&a)))
		return status;

	a.req.base = a.spec.run;
	if (a.budget.have_spec && !a.req.base.gpu_name[0])
		vf_strlcpy_cli(a.req.base.gpu_name, a.budget.spec.id,
			       sizeof a.req.base.gpu_name);
	a.req.budget_bytes = a.budget.budget;
	a.req.gpu = a.budget.have_spec ? &a.budget.spec : NULL;
	if (!a.req.max_seq)
		a.req.max_seq = a.spec.run.seq_len ? a.spec.run.seq_len : 2048;
	if (!a.req.min_seq)
		a.req.min_seq = a.req.max_seq / 4 ? a.req.max_seq / 4 : 1;
	if (a.req.min_seq > a.req.max_seq)
		return cli_usage_error("--min-seq %u is above --max-seq %u",
				       a.req.min_seq, a.req.max_seq);
	a.req.base.seq_len = 0; /* searched from max_seq down */

	vf_plan *p = malloc(sizeof *p);
	if (!p)
		return cli_usage_error("out of memory");
	vf_error err;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (vf_plan_search(&a.spec.model_value, &a.req, p, &err)) {
		free(p);
		fprintf(stderr, "vramfit: plan: %s\n", err.message);
		return cli_exit_for(err.status);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	const vf_model *m = &a.spec.model_value;

	if (a.json) {
		status = print_json(m, p, &a, ms);
	} else {
		char bud[32], cap[32];
		printf("%s: budget %s per GPU (%s - %u MiB safety margin)%s%s\n",
		       m->name, vf_format_bytes(a.req.budget_bytes, bud, sizeof bud),
		       vf_format_bytes(a.budget.capacity, cap, sizeof cap),
		       a.budget.margin_mib, a.budget.have_spec ? ", " : "",
		       a.budget.have_spec ? a.budget.spec.id : "");
		if (a.gpu_kinds)
			printf("mixed GPUs: data-parallel replicas are bound by "
			       "the smallest, %s\n", a.budget.spec.id);
		if (a.budget.note[0])
			printf("%s\n", a.budget.note);
		printf("searched %llu configurations (%llu more cut: larger "
		       "micro-batches after one that did not fit) in %.2f ms\n",
		       (unsigned long long)p->evaluated,
		       (unsigned long long)p->pruned, ms);
		if (p->note[0])
			printf("note: %s\n", p->note);
		if (p->found) {
			printf("\nOptimized Configuration\n");
			print_option(m, &p->chosen, &a);
			if (p->n_alternatives)
				printf("\nAlternatives\n");
			for (unsigned i = 0; i < p->n_alternatives; i++) {
				const vf_plan_option *o = &p->alternatives[i];
				const vf_run *r = &o->est.run;
				char b[32];
				char par[64] = "";
				if (r->strategy != VF_STRATEGY_SINGLE)
					snprintf(par, sizeof par, ", %s",
						 vf_strategy_name(r->strategy));
				if (r->offload != VF_OFFLOAD_NONE)
					snprintf(par + strlen(par),
						 sizeof par - strlen(par),
						 ", offload %s",
						 vf_offload_name(r->offload));
				printf("  %u. %s%s%s, %s, batch %u x %u, seq %u, ckpt %s, %s%s: "
				       "%s, %.0f tokens/s - %s\n",
				       i + 1, vf_method_name(r->method),
				       r->quant != VF_QUANT_NONE ? " " : "",
				       r->quant != VF_QUANT_NONE ? vf_quant_name(r->quant) : "",
				       vf_precision_name(r->precision),
				       r->micro_batch, r->grad_accum, r->seq_len,
				       r->grad_ckpt == VF_CKPT_OFF ? "off"
				       : r->ckpt_every > 1 ? "partial" : "on",
				       vf_optimizer_name(r->optimizer), par,
				       vf_format_bytes(o->est.peak_process, b, sizeof b),
				       o->speed.tokens_per_second, o->reason);
			}
		} else {
			printf("\nNOTHING FITS down to %u tokens.", a.req.min_seq);
			if (p->chosen.est.peak_process) {
				printf(" The closest:\n");
				print_option(m, &p->chosen, &a);
			}
			printf("\n");
		}
	}
	if (!status && p->found)
		status = emit_all(m, p, &a);
	if (!status && !p->found)
		status = EXIT_DOES_NOT_FIT;
	free(p);
	return status;
}
