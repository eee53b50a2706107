/*
 * emit.c - a planned run written out in the format of the tool people
 * train with: HF TrainingArguments / TRL SFTConfig with the PEFT LoraConfig
 * and BitsAndBytesConfig, DeepSpeed, accelerate, axolotl, the run JSON of
 * the schema, or vramfit's own flags. The names each tool uses for a knob
 * are tables; docs/plan.md lists them with their sources.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growing text buffer; every emitter writes into one. */
typedef struct text {
	char *s;
	size_t len, cap;
	bool oom;
} text;

__attribute__((format(printf, 2, 3)))
static void put(text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = t->s ? vsnprintf(t->s + t->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		while (n >= 0 && cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->s, cap);
		if (!p) {
			t->oom = true;
			return;
		}
		t->s = p, t->cap = cap;
	}
}

/* HF module names of the LoRA target roles (Llama/Mistral/Qwen naming;
 * PEFT's "all-linear" covers the rest). */
static const char *const hf_module[VF_ROLE_COUNT] = {
	[VF_ROLE_Q] = "q_proj", [VF_ROLE_K] = "k_proj", [VF_ROLE_V] = "v_proj",
	[VF_ROLE_QKV] = "qkv_proj", [VF_ROLE_O] = "o_proj",
	[VF_ROLE_GATE] = "gate_proj", [VF_ROLE_UP] = "up_proj",
	[VF_ROLE_GATE_UP] = "gate_up_proj", [VF_ROLE_DOWN] = "down_proj",
	[VF_ROLE_FC1] = "fc1", [VF_ROLE_FC2] = "fc2",
	[VF_ROLE_EMBED] = "embed_tokens", [VF_ROLE_LM_HEAD] = "lm_head",
};

/* transformers TrainingArguments.optim (OptimizerNames) and axolotl. */
static const char *const hf_optim[VF_OPTIM_COUNT] = {
	[VF_OPTIM_ADAMW] = "adamw_torch", [VF_OPTIM_ADAM] = "adamw_torch",
	[VF_OPTIM_ADAMW_FUSED] = "adamw_torch_fused",
	[VF_OPTIM_ADAMW_8BIT] = "adamw_bnb_8bit",
	[VF_OPTIM_ADAM_8BIT] = "adamw_bnb_8bit",
	[VF_OPTIM_PAGED_ADAMW] = "paged_adamw_32bit",
	[VF_OPTIM_PAGED_ADAMW_8BIT] = "paged_adamw_8bit",
	[VF_OPTIM_ADAFACTOR] = "adafactor", [VF_OPTIM_SGD] = "sgd",
	[VF_OPTIM_SGD_MOMENTUM] = "sgd", [VF_OPTIM_LION] = "lion_32bit",
	[VF_OPTIM_LION_8BIT] = "lion_8bit",
};

const char *cli_hf_optim_name(vf_optimizer o)
{
	return (unsigned)o < VF_OPTIM_COUNT ? hf_optim[o] : NULL;
}

static bool adapters(const vf_run *r)
{
	return r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA ||
	       r->method == VF_METHOD_DORA;
}

static bool four_bit(const vf_run *r)
{
	return r->quant != VF_QUANT_NONE && r->quant != VF_QUANT_INT8;
}

static unsigned zero_stage(const vf_run *r)
{
	switch (r->strategy) {
	case VF_STRATEGY_ZERO1: return 1;
	case VF_STRATEGY_ZERO2: return 2;
	case VF_STRATEGY_ZERO3: return 3;
	default: return 0;
	}
}

static const char *mixed(const vf_run *r)
{
	return r->precision == VF_PRECISION_FP16_MIXED ||
			       r->precision == VF_PRECISION_FP16_TRUE
		       ? "fp16"
	       : r->precision == VF_PRECISION_FP32 ? "no" : "bf16";
}

/* The dtype to load the weights in. `bf16: true` alone is autocast over
 * whatever from_pretrained loaded (fp32 in transformers <= 4.57): bf16-true
 * needs the weights loaded in bf16, bf16-mixed in fp32. */
static unsigned zero_stage(const vf_run *r);

static const char *load_dtype(const vf_run *r)
{
	/* DeepSpeed keeps its own fp32 master partitions, and a 4-bit base
	 * keeps its other modules in the compute dtype */
	bool fp16 = r->precision == VF_PRECISION_FP16_MIXED ||
		    r->precision == VF_PRECISION_FP16_TRUE;
	if (zero_stage(r) || r->quant != VF_QUANT_NONE)
		return fp16 ? "float16" : "bfloat16";
	switch (r->precision) {
	case VF_PRECISION_BF16_TRUE: return "bfloat16";
	case VF_PRECISION_FP16_TRUE: return "float16";
	default: return "float32";
	}
}

/* YAML flow list of the target modules: [q_proj, v_proj]. */
static void targets_yaml(text *t, vf_targets targets)
{
	if ((targets & VF_TARGETS_ALL_LINEAR) == VF_TARGETS_ALL_LINEAR) {
		put(t, "all-linear");
		return;
	}
	put(t, "[");
	bool first = true;
	for (int role = 0; role < VF_ROLE_COUNT; role++)
		if ((targets & VF_TARGET(role)) && hf_module[role]) {
			put(t, "%s%s", first ? "" : ", ", hf_module[role]);
			first = false;
		}
	put(t, "]");
}

static void emit_hf(text *t, const char *model, const vf_run *r)
{
	put(t, "# HF TrainingArguments / TRL SFTConfig, PEFT LoraConfig and\n"
	       "# BitsAndBytesConfig planned by vramfit:\n"
	       "#   SFTConfig(**cfg[\"training_arguments\"]),\n"
	       "#   LoraConfig(**cfg[\"lora_config\"]),\n"
	       "#   BitsAndBytesConfig(**cfg[\"bnb_config\"])\n");
	put(t, "model_name_or_path: \"%s\"\n", model);
	put(t, "torch_dtype: %s   # from_pretrained(..., torch_dtype=...)\n",
	    load_dtype(r));
	put(t, "training_arguments:\n");
	/* TRL loads a model given by name with these */
	put(t, "  model_init_kwargs: {torch_dtype: %s}\n", load_dtype(r));
	put(t, "  per_device_train_batch_size: %u\n", r->micro_batch);
	put(t, "  gradient_accumulation_steps: %u\n", r->grad_accum);
	put(t, "  max_length: %u\n", r->seq_len);
	put(t, "  gradient_checkpointing: %s\n",
	    r->grad_ckpt == VF_CKPT_OFF ? "false" : "true");
	if (r->grad_ckpt != VF_CKPT_OFF)
		put(t, "  gradient_checkpointing_kwargs: {use_reentrant: false}\n");
	put(t, "  bf16: %s\n  fp16: %s\n",
	    strcmp(mixed(r), "bf16") == 0 ? "true" : "false",
	    strcmp(mixed(r), "fp16") == 0 ? "true" : "false");
	if (hf_optim[r->optimizer])
		put(t, "  optim: %s\n", hf_optim[r->optimizer]);
	if (r->packing == 1)
		put(t, "  packing: true\n");
	if (zero_stage(r))
		put(t, "  deepspeed: ds_config.json   # vramfit plan --emit deepspeed\n");
	if (r->strategy == VF_STRATEGY_FSDP)
		put(t, "  fsdp: \"full_shard auto_wrap\"\n");
	if (adapters(r)) {
		put(t, "lora_config:\n  r: %u\n  lora_alpha: %g\n"
		       "  lora_dropout: %g\n  target_modules: ",
		    r->lora.r, r->lora.alpha > 0 ? r->lora.alpha : 2.0 * r->lora.r,
		    r->lora.dropout > 0 ? r->lora.dropout : 0.0);
		targets_yaml(t, r->lora.targets);
		put(t, "\n  use_dora: %s\n  task_type: CAUSAL_LM\n",
		    r->method == VF_METHOD_DORA ? "true" : "false");
	}
	if (r->quant != VF_QUANT_NONE) {
		put(t, "bnb_config:\n");
		if (four_bit(r))
			put(t, "  load_in_4bit: true\n  bnb_4bit_quant_type: %s\n"
			       "  bnb_4bit_use_double_quant: %s\n"
			       "  bnb_4bit_compute_dtype: bfloat16\n",
			    r->quant == VF_QUANT_FP4 || r->quant == VF_QUANT_FP4_DQ
				    ? "fp4" : "nf4",
			    r->quant == VF_QUANT_NF4_DQ || r->quant == VF_QUANT_FP4_DQ
				    ? "true" : "false");
		else
			put(t, "  load_in_8bit: true\n");
	}
}

static void emit_deepspeed(text *t, const vf_model *m, const vf_run *r)
{
	unsigned stage = zero_stage(r);
	uint64_t h = m->arch.hidden_size;
	/* HF's "auto" values, written out: reduce bucket h*h, stage-3
	 * prefetch 0.9*h*h, persistence threshold 10*h (transformers
	 * integrations/deepspeed.py) - the sizes the memory model counts. */
	uint64_t bucket = r->reduce_bucket_elems ? r->reduce_bucket_elems : h * h;
	put(t, "{\n  \"train_micro_batch_size_per_gpu\": %u,\n"
	       "  \"gradient_accumulation_steps\": %u,\n"
	       "  \"gradient_clipping\": 1.0,\n",
	    r->micro_batch, r->grad_accum);
	put(t, "  \"bf16\": {\"enabled\": %s},\n  \"fp16\": {\"enabled\": %s},\n",
	    strcmp(mixed(r), "bf16") == 0 ? "true" : "false",
	    strcmp(mixed(r), "fp16") == 0 ? "true" : "false");
	put(t, "  \"zero_optimization\": {\n    \"stage\": %u,\n"
	       "    \"overlap_comm\": true,\n    \"contiguous_gradients\": true,\n"
	       "    \"reduce_bucket_size\": %llu",
	    stage, (unsigned long long)bucket);
	if (stage == 3)
		put(t, ",\n    \"stage3_prefetch_bucket_size\": %llu,\n"
		       "    \"stage3_param_persistence_threshold\": %llu",
		    (unsigned long long)(bucket * 9 / 10),
		    (unsigned long long)(10 * h));
	if (r->offload == VF_OFFLOAD_OPTIMIZER ||
	    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS)
		put(t, ",\n    \"offload_optimizer\": {\"device\": \"cpu\", "
		       "\"pin_memory\": true}");
	if (r->offload == VF_OFFLOAD_PARAMS ||
	    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS)
		put(t, ",\n    \"offload_param\": {\"device\": \"cpu\", "
		       "\"pin_memory\": true}");
	put(t, "\n  }\n}\n");
}

static void emit_accelerate(text *t, const vf_run *r)
{
	unsigned n = r->n_gpus ? r->n_gpus : 1, stage = zero_stage(r);
	const char *type = stage ? "DEEPSPEED"
			   : r->strategy == VF_STRATEGY_FSDP ? "FSDP"
			   : n > 1 ? "MULTI_GPU" : "NO";
	put(t, "# accelerate config planned by vramfit (accelerate launch "
	       "--config_file FILE)\ncompute_environment: LOCAL_MACHINE\n"
	       "distributed_type: %s\nnum_machines: 1\nnum_processes: %u\n"
	       "mixed_precision: %s\n",
	    type, n, mixed(r));
	if (stage)
		put(t, "deepspeed_config:\n  zero_stage: %u\n"
		       "  gradient_accumulation_steps: %u\n"
		       "  offload_optimizer_device: %s\n"
		       "  offload_param_device: %s\n",
		    stage, r->grad_accum,
		    r->offload == VF_OFFLOAD_OPTIMIZER ||
				    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS
			    ? "cpu" : "none",
		    r->offload == VF_OFFLOAD_PARAMS ||
				    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS
			    ? "cpu" : "none");
	if (r->strategy == VF_STRATEGY_FSDP)
		put(t, "fsdp_config:\n  fsdp_sharding_strategy: FULL_SHARD\n"
		       "  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP\n"
		       "  fsdp_offload_params: %s\n",
		    r->offload == VF_OFFLOAD_PARAMS ? "true" : "false");
}

static void emit_axolotl(text *t, const char *model, const vf_run *r)
{
	put(t, "# axolotl config planned by vramfit\nbase_model: \"%s\"\n", model);
	if (r->quant != VF_QUANT_NONE)
		put(t, "%s: true\n", four_bit(r) ? "load_in_4bit" : "load_in_8bit");
	if (adapters(r)) {
		put(t, "adapter: %s\nlora_r: %u\nlora_alpha: %g\nlora_dropout: %g\n",
		    r->quant != VF_QUANT_NONE ? "qlora" : "lora", r->lora.r,
		    r->lora.alpha > 0 ? r->lora.alpha : 2.0 * r->lora.r,
		    r->lora.dropout > 0 ? r->lora.dropout : 0.0);
		if ((r->lora.targets & VF_TARGETS_ALL_LINEAR) == VF_TARGETS_ALL_LINEAR)
			put(t, "lora_target_linear: true\n");
		else {
			put(t, "lora_target_modules: ");
			targets_yaml(t, r->lora.targets);
			put(t, "\n");
		}
		if (r->method == VF_METHOD_DORA)
			put(t, "peft_use_dora: true\n");
	}
	put(t, "sequence_len: %u\nsample_packing: %s\nmicro_batch_size: %u\n"
	       "gradient_accumulation_steps: %u\ngradient_checkpointing: %s\n",
	    r->seq_len, r->packing == 1 ? "true" : "false", r->micro_batch,
	    r->grad_accum, r->grad_ckpt == VF_CKPT_OFF ? "false" : "true");
	put(t, "bf16: %s\nfp16: %s\n",
	    strcmp(mixed(r), "bf16") == 0 ? "true" : "false",
	    strcmp(mixed(r), "fp16") == 0 ? "true" : "false");
	if (hf_optim[r->optimizer])
		put(t, "optimizer: %s\n", hf_optim[r->optimizer]);
	put(t, "flash_attention: %s\n",
	    r->attention == VF_ATTN_FLASH2 ? "true" : "false");
	if (r->attention == VF_ATTN_SDPA)
		put(t, "sdp_attention: true\n");
	if (zero_stage(r))
		put(t, "deepspeed: ds_config.json   # vramfit plan --emit deepspeed\n");
}

static void emit_flags(text *t, const char *model, const vf_run *r)
{
	char targets[128];
	put(t, "vramfit estimate --model %s --framework %s --method %s "
	       "--precision %s",
	    model, vf_framework_name(r->framework), vf_method_name(r->method),
	    vf_precision_name(r->precision));
	if (r->quant != VF_QUANT_NONE)
		put(t, " --quant %s", vf_quant_name(r->quant));
	if (adapters(r)) {
		vf_targets_format(r->lora.targets, targets, sizeof targets);
		put(t, " --lora-r %u --lora-targets %s", r->lora.r, targets);
	}
	put(t, " --batch %u --seq %u --grad-accum %u", r->micro_batch,
	    r->seq_len, r->grad_accum);
	if (r->grad_ckpt == VF_CKPT_OFF)
		put(t, " --no-grad-ckpt");
	else if (r->ckpt_every > 1)
		put(t, " --ckpt-every %u", r->ckpt_every);
	else
		put(t, " --grad-ckpt");
	put(t, " --attention %s --optim %s", vf_attention_name(r->attention),
	    vf_optimizer_name(r->optimizer));
	if (r->n_gpus > 1)
		put(t, " --gpus %u --strategy %s", r->n_gpus,
		    vf_strategy_name(r->strategy));
	if (r->offload != VF_OFFLOAD_NONE)
		put(t, " --offload %s", vf_offload_name(r->offload));
	put(t, "\n");
}

static const char *const formats[] = {"hf", "deepspeed", "accelerate",
				      "axolotl", "run", "flags", NULL};

char *cli_emit(const char *format, const vf_model *m, const vf_run *r)
{
	text t = {0};
	if (strcmp(format, "hf") == 0)
		emit_hf(&t, m->name, r);
	else if (strcmp(format, "deepspeed") == 0)
		emit_deepspeed(&t, m, r);
	else if (strcmp(format, "accelerate") == 0)
		emit_accelerate(&t, r);
	else if (strcmp(format, "axolotl") == 0)
		emit_axolotl(&t, m->name, r);
	else if (strcmp(format, "flags") == 0)
		emit_flags(&t, m->name, r);
	else if (strcmp(format, "run") == 0) {
		char *s = vf_run_to_json(r, m->name);
		if (s)
			put(&t, "%s\n", s);
		else
			t.oom = true;
		free(s);
	} else
		return NULL;
	if (t.oom) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

bool cli_emit_format_known(const char *format)
{
	for (const char *const *f = formats; *f; f++)
		if (strcmp(*f, format) == 0)
			return true;
	return false;
}

int cli_write_file(const char *path, const char *content, bool force)
{
	/* A temporary file beside the target, then link() (fails if the
	 * target exists) or, with --force, rename(): readers never see half
	 * a file, and nothing is overwritten unless asked. */
	char tmp[4096];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;
	if (snprintf(tmp, sizeof tmp, "%.*s/.vramfit-XXXXXX", dirlen,
		     slash ? path : ".") >= (int)sizeof tmp)
		return cli_usage_error("%s: path too long", path);
	if (!force && access(path, F_OK) == 0)
		return cli_usage_error("%s exists (use --force to overwrite)", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "vramfit: %s: %s\n", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	size_t len = strlen(content);
	bool ok = write(fd, content, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	chmod(tmp, 0644);
	int rc = EXIT_OK;
	if (!ok) {
		fprintf(stderr, "vramfit: %s: %s\n", path, strerror(errno));
		rc = EXIT_RUNTIME;
	} else if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
		if (errno == EEXIST)
			rc = cli_usage_error("%s exists (use --force to overwrite)",
					     path);
		else {
			fprintf(stderr, "vramfit: %s: %s\n", path, strerror(errno));
			rc = EXIT_RUNTIME;
		}
	}
	unlink(tmp); /* after link(), or when anything failed */
	return rc;
}
