/*
 * run_flags.c - the flags that describe a model and a run, shared by
 * estimate, plan, sweep and check. One table: flag, argument, what it sets.
 */
#include <assert.h>
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
	F_MODEL = 1000, F_RUN, F_METHOD, F_PRECISION, F_QUANT, F_LORA_R,
	F_LORA_ALPHA, F_LORA_DROPOUT, F_LORA_TARGETS, F_BATCH, F_SEQ,
	F_GRAD_ACCUM, F_GRAD_CKPT, F_NO_GRAD_CKPT, F_CKPT_EVERY, F_CKPT_OFFLOAD,
	F_ATTN, F_OPTIM, F_LOSS, F_OBJECTIVE, F_GPUS, F_STRATEGY, F_OFFLOAD,
	F_FRAMEWORK, F_BUCKET, F_PACKING, F_COMPILE, F_ACT_OFFLOAD, F_PHASES,
	F_HIDDEN, F_LAYERS, F_HEADS, F_KV_HEADS, F_VOCAB, F_INTER, F_HEAD_DIM,
	F_TIED, F_MLP, F_NORM, F_EXPERTS, F_EXPERTS_TOPK, F_EXPERT_INTER,
	F_VERSIONS, F_OFFLINE,
};

const struct option cli_run_options[] = {
	{"model", required_argument, 0, F_MODEL},
	{"run", required_argument, 0, F_RUN},
	{"offline", no_argument, 0, F_OFFLINE},
	{"method", required_argument, 0, F_METHOD},
	{"precision", required_argument, 0, F_PRECISION},
	{"quant", required_argument, 0, F_QUANT},
	{"lora-r", required_argument, 0, F_LORA_R},
	{"lora-alpha", required_argument, 0, F_LORA_ALPHA},
	{"lora-dropout", required_argument, 0, F_LORA_DROPOUT},
	{"lora-targets", required_argument, 0, F_LORA_TARGETS},
	{"batch", required_argument, 0, F_BATCH},
	{"micro-batch", required_argument, 0, F_BATCH},
	{"seq", required_argument, 0, F_SEQ},
	{"grad-accum", required_argument, 0, F_GRAD_ACCUM},
	{"grad-ckpt", no_argument, 0, F_GRAD_CKPT},
	{"no-grad-ckpt", no_argument, 0, F_NO_GRAD_CKPT},
	{"ckpt-every", required_argument, 0, F_CKPT_EVERY},
	{"ckpt-offload", no_argument, 0, F_CKPT_OFFLOAD},
	{"attention", required_argument, 0, F_ATTN},
	{"optim", required_argument, 0, F_OPTIM},
	{"loss", required_argument, 0, F_LOSS},
	{"objective", required_argument, 0, F_OBJECTIVE},
	{"gpus", required_argument, 0, F_GPUS},
	{"strategy", required_argument, 0, F_STRATEGY},
	{"offload", required_argument, 0, F_OFFLOAD},
	{"framework", required_argument, 0, F_FRAMEWORK},
	{"bucket-size", required_argument, 0, F_BUCKET},
	{"packing", no_argument, 0, F_PACKING},
	{"compile", no_argument, 0, F_COMPILE},
	{"activation-offload", no_argument, 0, F_ACT_OFFLOAD},
	{"phases", required_argument, 0, F_PHASES},
	{"versions", required_argument, 0, F_VERSIONS},
	{"hidden", required_argument, 0, F_HIDDEN},
	{"layers", required_argument, 0, F_LAYERS},
	{"heads", required_argument, 0, F_HEADS},
	{"kv-heads", required_argument, 0, F_KV_HEADS},
	{"vocab", required_argument, 0, F_VOCAB},
	{"intermediate", required_argument, 0, F_INTER},
	{"head-dim", required_argument, 0, F_HEAD_DIM},
	{"tied", no_argument, 0, F_TIED},
	{"mlp", required_argument, 0, F_MLP},
	{"norm", required_argument, 0, F_NORM},
	{"experts", required_argument, 0, F_EXPERTS},
	{"experts-per-token", required_argument, 0, F_EXPERTS_TOPK},
	{"expert-intermediate", required_argument, 0, F_EXPERT_INTER},
};
const size_t cli_run_options_len =
	sizeof cli_run_options / sizeof cli_run_options[0];

void cli_run_options_with(struct option *out, size_t cap,
			  const struct option *own)
{
	size_t n = 0;
	for (size_t i = 0; i < cli_run_options_len && n + 1 < cap; i++)
		out[n++] = cli_run_options[i];
	for (; own->name && n + 1 < cap; own++)
		out[n++] = *own;
	/* a table too small for its own flags is a programming error */
	assert(!own->name);
	out[n] = (struct option){0, 0, 0, 0};
}

const char cli_run_help[] =
	"model:\n"
	"  --model NAME|PATH|ORG/NAME[@REV]\n"
	"                         built-in name (vramfit models), config.json, model\n"
	"                         folder, or a Hub id (HF cache, then the Hub)\n"
	"  --offline              Hub ids from the cache only (as HF_HUB_OFFLINE=1)\n"
	"  --hidden N --layers N --heads N [--kv-heads N] --vocab N\n"
	"  [--intermediate N] [--head-dim N] [--tied] [--mlp gated|plain]\n"
	"  [--norm rms|layer] [--experts N --experts-per-token K\n"
	"  --expert-intermediate N]   a model given by its dimensions\n"
	"run (unset knobs take the framework's defaults):\n"
	"  --run FILE.json        start from a saved run (schema run object)\n"
	"  --framework NAME       hf-trainer (default), trl, peft, litgpt, torchtune, ...\n"
	"  --versions PKG=V,...   package versions whose behaviour differs, e.g.\n"
	"                         transformers=4.38.2,trl=0.21,peft=0.11,bitsandbytes=0.41.1\n"
	"  --method M             full, lora, qlora, dora, inference\n"
	"  --precision P          bf16-true, bf16-mixed, fp16-mixed, fp32\n"
	"  --quant Q              nf4, nf4-dq, fp4, fp4-dq, int8\n"
	"  --lora-r N --lora-alpha A --lora-dropout D --lora-targets q,v|all-linear\n"
	"  --batch N              micro-batch per GPU\n"
	"  --seq N                tokens per sample\n"
	"  --grad-accum N         gradient accumulation steps\n"
	"  --grad-ckpt | --no-grad-ckpt | --ckpt-every K | --ckpt-offload\n"
	"  --attention A          eager, sdpa, flash2\n"
	"  --optim O              adamw, adamw-fused, adamw-8bit, paged-adamw,\n"
	"                         paged-adamw-8bit, adafactor, sgd, sgd-momentum, lion\n"
	"  --loss L               standard, chunked, fused-linear-ce\n"
	"  --objective O          sft, cpt, pretrain, dpo, kto\n"
	"  --gpus N --strategy S  ddp, fsdp, zero1, zero2, zero3\n"
	"  --offload WHAT         optimizer, params, optimizer+params\n"
	"  --bucket-size N        ZeRO reduce bucket (elements)\n"
	"  --packing --compile --activation-offload\n";

void cli_run_spec_init(cli_run_spec *spec)
{
	memset(spec, 0, sizeof *spec);
	vf_run_init(&spec->run);
	spec->arch.num_kv_heads = 0;
	spec->arch.mlp = VF_MLP_GATED;
	spec->arch.norm = VF_NORM_RMS;
	spec->arch.norms_per_layer = 2;
	spec->arch.dtype = VF_DTYPE_BF16;
	vf_strlcpy_cli(spec->arch.model_type, "custom", sizeof spec->arch.model_type);
}

void vf_strlcpy_cli(char *dst, const char *src, size_t size)
{
	if (size)
		snprintf(dst, size, "%s", src);
}

static bool enum_arg(const char *flag, const char *s, bool ok)
{
	if (!ok)
		cli_usage_error("%s: unknown value \"%s\" (see --help)", flag, s);
	return ok;
}

static bool u64_arg(const char *flag, const char *s, uint64_t *out)
{
	uint32_t v;
	if (!cli_parse_u32(flag, s, 1, 1u << 24, &v))
		return false;
	*out = v;
	return true;
}

bool cli_run_flag(cli_run_spec *spec, int opt, const char *arg, int *status)
{
	vf_run *r = &spec->run;
	vf_arch *a = &spec->arch;
	bool ok = true;
	*status = EXIT_OK;
	switch (opt) {
	case F_MODEL: spec->model = arg; break;
	case F_RUN: spec->run_file = arg; break;
	case F_OFFLINE: spec->offline = true; break;
	case F_METHOD: ok = enum_arg("--method", arg, vf_method_from_name(arg, &r->method)); break;
	case F_PRECISION: ok = enum_arg("--precision", arg, vf_precision_from_name(arg, &r->precision)); break;
	case F_QUANT: ok = enum_arg("--quant", arg, vf_quant_from_name(arg, &r->quant)); break;
	case F_LORA_R: ok = cli_parse_u32("--lora-r", arg, 1, 65536, &r->lora.r); break;
	case F_LORA_ALPHA: ok = cli_parse_double("--lora-alpha", arg, 0, 1e6, &r->lora.alpha); break;
	case F_LORA_DROPOUT: ok = cli_parse_double("--lora-dropout", arg, 0, 0.999, &r->lora.dropout); break;
	case F_LORA_TARGETS: {
		vf_error err;
		if (vf_targets_parse(arg, &r->lora.targets, &err)) {
			cli_usage_error("--lora-targets: %s", err.message);
			ok = false;
		}
		break;
	}
	case F_BATCH: ok = cli_parse_u32("--batch", arg, 1, 4096, &r->micro_batch); break;
	case F_SEQ: ok = cli_parse_u32("--seq", arg, 1, 524288, &r->seq_len); break;
	case F_GRAD_ACCUM: ok = cli_parse_u32("--grad-accum", arg, 1, 65536, &r->grad_accum); break;
	case F_GRAD_CKPT: r->grad_ckpt = VF_CKPT_ON; break;
	case F_NO_GRAD_CKPT: r->grad_ckpt = VF_CKPT_OFF; break;
	case F_CKPT_OFFLOAD: r->grad_ckpt = VF_CKPT_OFFLOAD; break;
	case F_CKPT_EVERY:
		ok = cli_parse_u32("--ckpt-every", arg, 1, 1024, &r->ckpt_every);
		r->grad_ckpt = VF_CKPT_ON;
		break;
	case F_ATTN: ok = enum_arg("--attention", arg, vf_attention_from_name(arg, &r->attention)); break;
	case F_OPTIM: ok = enum_arg("--optim", arg, vf_optimizer_from_name(arg, &r->optimizer)); break;
	case F_LOSS: ok = enum_arg("--loss", arg, vf_loss_from_name(arg, &r->loss)); break;
	case F_OBJECTIVE: ok = enum_arg("--objective", arg, vf_objective_from_name(arg, &r->objective)); break;
	case F_GPUS: ok = cli_parse_u32("--gpus", arg, 1, 1024, &r->n_gpus); break;
	case F_STRATEGY: ok = enum_arg("--strategy", arg, vf_strategy_from_name(arg, &r->strategy)); break;
	case F_OFFLOAD: ok = enum_arg("--offload", arg, vf_offload_from_name(arg, &r->offload)); break;
	case F_FRAMEWORK: ok = enum_arg("--framework", arg, vf_framework_from_name(arg, &r->framework)); break;
	case F_BUCKET: {
		uint32_t v;
		ok = cli_parse_u32("--bucket-size", arg, 1, 4000000000u, &v);
		r->reduce_bucket_elems = v;
		break;
	}
	case F_PACKING: r->packing = 1; break;
	case F_COMPILE: r->compile = 1; break;
	case F_ACT_OFFLOAD: r->activation_offload = 1; break;
	case F_PHASES: ok = enum_arg("--phases", arg, vf_phases_from_name(arg, &r->phases)); break;
	case F_VERSIONS: {
		vf_error err;
		if (vf_versions_parse(arg, r->versions, &err)) {
			cli_usage_error("--versions: %s", err.message);
			ok = false;
		}
		break;
	}
	case F_HIDDEN: ok = u64_arg("--hidden", arg, &a->hidden_size); spec->custom = true; break;
	case F_LAYERS: ok = u64_arg("--layers", arg, &a->num_layers); spec->custom = true; break;
	case F_HEADS: ok = u64_arg("--heads", arg, &a->num_heads); spec->custom = true; break;
	case F_KV_HEADS: ok = u64_arg("--kv-heads", arg, &a->num_kv_heads); spec->custom = true; break;
	case F_VOCAB: ok = u64_arg("--vocab", arg, &a->vocab_size); spec->custom = true; break;
	case F_INTER: ok = u64_arg("--intermediate", arg, &a->intermediate_size); spec->custom = true; break;
	case F_HEAD_DIM: ok = u64_arg("--head-dim", arg, &a->head_dim); spec->custom = true; break;
	case F_TIED: a->tie_embeddings = true; spec->custom = true; break;
	case F_MLP:
		ok = enum_arg("--mlp", arg, !strcmp(arg, "gated") || !strcmp(arg, "plain"));
		a->mlp = !strcmp(arg, "plain") ? VF_MLP_PLAIN : VF_MLP_GATED;
		spec->custom = true;
		break;
	case F_NORM:
		ok = enum_arg("--norm", arg, !strcmp(arg, "rms") || !strcmp(arg, "layer"));
		a->norm = !strcmp(arg, "layer") ? VF_NORM_LAYER : VF_NORM_RMS;
		spec->custom = true;
		break;
	case F_EXPERTS: ok = u64_arg("--experts", arg, &a->num_experts); spec->custom = true; break;
	case F_EXPERTS_TOPK: ok = u64_arg("--experts-per-token", arg, &a->experts_per_token); spec->custom = true; break;
	case F_EXPERT_INTER: ok = u64_arg("--expert-intermediate", arg, &a->expert_intermediate_size); spec->custom = true; break;
	default:
		return false;
	}
	if (!ok)
		*status = EXIT_USAGE;
	return true;
}

/* A run file's knobs are the base; flags given on the command line win. */
static void overlay(vf_run *base, const vf_run *flags)
{
	vf_run unset;
	vf_run_init(&unset);
#define TAKE(f) if (flags->f != unset.f) base->f = flags->f
	TAKE(framework); TAKE(method); TAKE(precision); TAKE(quant);
	TAKE(lora.r); TAKE(lora.alpha); TAKE(lora.targets);
	if (flags->lora.dropout >= 0) base->lora.dropout = flags->lora.dropout;
	TAKE(micro_batch); TAKE(seq_len); TAKE(grad_accum); TAKE(grad_ckpt);
	TAKE(ckpt_every); TAKE(attention); TAKE(optimizer); TAKE(loss);
	TAKE(objective); TAKE(n_gpus); TAKE(strategy); TAKE(offload);
	TAKE(reduce_bucket_elems); TAKE(packing); TAKE(compile);
	TAKE(activation_offload); TAKE(phases);
	for (int i = 0; i < VF_PKG_COUNT; i++)
		TAKE(versions[i]);
#undef TAKE
}

int cli_run_finish(cli_run_spec *spec)
{
	char model_name[128] = "";
	if (spec->run_file) {
		vf_run from_file;
		vf_error err;
		char *text = NULL;
		FILE *f = fopen(spec->run_file, "rb");
		if (!f)
			return cli_usage_error("--run: cannot open %s", spec->run_file);
		size_t cap = 1 << 16, n = 0;
		text = malloc(cap);
		while (text && (n += fread(text + n, 1, cap - n, f)) == cap) {
			if (cap >= (64u << 20))
				break;
			char *t = realloc(text, cap * 2);
			if (!t) { free(text); text = NULL; break; }
			text = t;
			cap *= 2;
		}
		fclose(f);
		if (!text)
			return cli_usage_error("--run: out of memory");
		vf_status st = vf_run_from_json(&from_file, model_name,
						sizeof model_name, text, n, &err);
		free(text);
		if (st) {
			fprintf(stderr, "vramfit: --run %s: %s\n", spec->run_file,
				err.message);
			return cli_exit_for(st);
		}
		overlay(&from_file, &spec->run);
		spec->run = from_file;
		if (!spec->model && model_name[0])
			vf_strlcpy_cli(spec->model_buf, model_name, sizeof spec->model_buf),
				spec->model = spec->model_buf;
	}
	if (spec->base_run) {
		vf_run base = *spec->base_run;
		overlay(&base, &spec->run);
		spec->run = base;
		if (!spec->model && !spec->custom && spec->base_model &&
		    spec->base_model[0])
			spec->model = spec->base_model;
	}
	if (spec->custom) {
		if (spec->model)
			return cli_usage_error("--model and model dimensions "
					       "(--hidden ...) cannot be combined");
		vf_arch *a = &spec->arch;
		if (!a->num_kv_heads)
			a->num_kv_heads = a->num_heads;
		if (!a->head_dim && a->num_heads) {
			if (a->hidden_size % a->num_heads)
				return cli_usage_error(
					"--heads %llu does not divide --hidden "
					"%llu (give --head-dim)",
					(unsigned long long)a->num_heads,
					(unsigned long long)a->hidden_size);
			a->head_dim = a->hidden_size / a->num_heads;
		}
		if (!a->intermediate_size)
			a->intermediate_size = a->mlp == VF_MLP_GATED
						       ? a->hidden_size * 8 / 3
						       : a->hidden_size * 4;
		if (a->num_experts && !a->expert_intermediate_size)
			a->expert_intermediate_size = a->intermediate_size;
		if (a->norm == VF_NORM_LAYER)
			a->qkv_bias = a->o_bias = a->mlp_bias = false;
		vf_error err;
		if (vf_model_init(&spec->model_value, "custom", a, &err)) {
			fprintf(stderr, "vramfit: model dimensions: %s\n", err.message);
			return cli_exit_for(err.status);
		}
		return EXIT_OK;
	}
	if (!spec->model)
		return cli_usage_error("no model: give --model NAME|PATH or its "
				       "dimensions (--hidden ...)");
	int rc = cli_load_model_info(spec->model, spec->offline,
				     &spec->model_value, &spec->source);
	spec->have_source = rc == EXIT_OK;
	return rc;
}
