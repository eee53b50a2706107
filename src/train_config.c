/*
 * train_config.c - read a training setup file (HF TrainingArguments / TRL
 * configs, axolotl YAML, DeepSpeed JSON) into a vf_run.
 *
 * The file is flattened into leaves "a.b.c = value" with their line and
 * column (libyaml reads both YAML and JSON; jansson checks JSON first so a
 * malformed JSON file gets jansson's line and column). Each leaf is looked
 * up in the format's key table by its last component, or by its full
 * dotted path for nested DeepSpeed keys; a table row names the setter.
 * Settings that combine (load_in_4bit + quant type + double quant, adapter
 * + rank) are collected first and folded into the run at the end.
 */
#include "vramfit.h"
#include "internal.h"

#include <jansson.h>
#include <yaml.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tc_leaf {
	const char *path;   /* dotted, e.g. "zero_optimization.stage" */
	const char *key;    /* last component */
	const char *value;  /* scalar text; a list is joined with commas */
	unsigned line, col; /* 1-based, of the key */
} tc_leaf;

/* Settings that only mean something together. */
typedef struct tc_state {
	vf_train_config *cfg;
	const char *name;
	int q4, q8, dq, dora, lora_seen; /* -1 unset */
	int fp4;                          /* bnb_4bit_quant_type fp4 */
	int adapter;                      /* 0 none, 1 lora, 2 qlora */
	int flash, sdpa;
	int bf16, fp16;                   /* -1 unset */
	vf_attention attention;           /* attn_implementation */
	vf_precision load;                /* torch_dtype: BF16_TRUE, FP16_TRUE,
					   * FP32; UNSET: not stated */
	vf_error *err;
} tc_state;

typedef vf_status (*tc_setter)(tc_state *s, const tc_leaf *l, size_t arg);

typedef struct tc_key {
	const char *key;   /* last component, or dotted path with a '.' */
	tc_setter set;
	size_t arg;        /* offsetof a field, or a constant for the setter */
} tc_key;

/* ---- value parsing ------------------------------------------------- */

static bool is_auto(const tc_leaf *l) { return vf_streq_ci(l->value, "auto"); }

static vf_status type_error(tc_state *s, const tc_leaf *l, const char *want)
{
	return vf_fail(s->err, VF_EINVAL, "%s:%u:%u: key '%s' wants %s, got '%s'",
		       s->name, l->line, l->col, l->path, want, l->value);
}

static vf_status parse_bool(tc_state *s, const tc_leaf *l, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0", "null", "~", ""};
	for (size_t i = 0; i < VF_ARRAY_LEN(yes); i++)
		if (vf_streq_ci(l->value, yes[i]))
			return *out = true, VF_OK;
	for (size_t i = 0; i < VF_ARRAY_LEN(no); i++)
		if (vf_streq_ci(l->value, no[i]))
			return *out = false, VF_OK;
	return type_error(s, l, "true or false");
}

static vf_status parse_u32(tc_state *s, const tc_leaf *l, uint32_t *out)
{
	char *end;
	const char *v = l->value;
	if (!*v || *v == '-')
		return type_error(s, l, "a non-negative integer");
	unsigned long long n = strtoull(v, &end, 10);
	/* DeepSpeed writes bucket sizes as 5e8: accept integral floats. */
	if (*end) {
		double d = strtod(v, &end);
		if (*end || d < 0 || d > 4294967295.0 || d != (double)(uint64_t)d)
			return type_error(s, l, "a non-negative integer");
		n = (unsigned long long)d;
	}
	if (n > UINT32_MAX)
		return type_error(s, l, "an integer below 2^32");
	*out = (uint32_t)n;
	return VF_OK;
}

/* ---- setters --------------------------------------------------------- */

#define RUN_FIELD(s, arg, type) ((type *)((char *)&(s)->cfg->run + (arg)))

static vf_status set_u32(tc_state *s, const tc_leaf *l, size_t arg)
{
	if (is_auto(l))
		return VF_OK; /* "auto": another source or the default decides */
	return parse_u32(s, l, RUN_FIELD(s, arg, uint32_t));
}

static vf_status set_bucket(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	uint32_t v;
	if (is_auto(l))
		return VF_OK;
	vf_status st = parse_u32(s, l, &v);
	if (!st)
		s->cfg->run.reduce_bucket_elems = v;
	return st;
}

static vf_status set_model(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	vf_strlcpy(s->cfg->model, l->value, sizeof s->cfg->model);
	return VF_OK;
}

/* bf16 / fp16: what they mean depends on the load dtype and the format;
 * decided in finish(). "auto" (DeepSpeed): the trainer decides. */
static vf_status set_half(tc_state *s, const tc_leaf *l, size_t arg)
{
	bool on;
	if (is_auto(l))
		return VF_OK;
	vf_status st = parse_bool(s, l, &on);
	if (!st)
		*(int *)((char *)s + arg) = on;
	return st;
}

/* torch_dtype / dtype: what from_pretrained loads the weights in. */
static vf_status set_load_dtype(tc_state *s, const tc_leaf *l, size_t arg)
{
	static const struct { const char *name; vf_precision p; } dtypes[] = {
		{"bfloat16", VF_PRECISION_BF16_TRUE},
		{"torch.bfloat16", VF_PRECISION_BF16_TRUE},
		{"bf16", VF_PRECISION_BF16_TRUE},
		{"float16", VF_PRECISION_FP16_TRUE},
		{"torch.float16", VF_PRECISION_FP16_TRUE},
		{"fp16", VF_PRECISION_FP16_TRUE},
		{"float32", VF_PRECISION_FP32},
		{"torch.float32", VF_PRECISION_FP32},
		{"fp32", VF_PRECISION_FP32},
	};
	(void)arg;
	if (is_auto(l))
		return VF_OK; /* the checkpoint's own dtype: unknown here */
	for (size_t i = 0; i < VF_ARRAY_LEN(dtypes); i++)
		if (vf_streq_ci(l->value, dtypes[i].name)) {
			s->load = dtypes[i].p;
			return VF_OK;
		}
	return type_error(s, l, "bfloat16, float16, float32 or auto");
}

static vf_status set_attn_impl(tc_state *s, const tc_leaf *l, size_t arg)
{
	static const struct { const char *name; vf_attention a; } impls[] = {
		{"flash_attention_2", VF_ATTN_FLASH2},
		{"flash_attention_3", VF_ATTN_FLASH2},
		{"sdpa", VF_ATTN_SDPA},
		{"eager", VF_ATTN_EAGER},
	};
	(void)arg;
	for (size_t i = 0; i < VF_ARRAY_LEN(impls); i++)
		if (vf_streq_ci(l->value, impls[i].name)) {
			s->attention = impls[i].a;
			return VF_OK;
		}
	return type_error(s, l, "flash_attention_2, sdpa or eager");
}

/* gradient_checkpointing: true/false. */
static vf_status set_ckpt(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	bool on;
	vf_status st = parse_bool(s, l, &on);
	if (!st)
		s->cfg->run.grad_ckpt = on ? VF_CKPT_ON : VF_CKPT_OFF;
	return st;
}

static vf_status set_optim(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	if (!vf_optimizer_from_name(l->value, &s->cfg->run.optimizer))
		return type_error(s, l, "an optimizer name (docs/check.md)");
	return VF_OK;
}

static vf_status set_flag(tc_state *s, const tc_leaf *l, size_t arg)
{
	bool on;
	vf_status st = parse_bool(s, l, &on);
	if (!st)
		*(int *)((char *)s + arg) = on;
	return st;
}

static vf_status set_packing(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	bool on;
	vf_status st = parse_bool(s, l, &on);
	if (!st)
		s->cfg->run.packing = on;
	return st;
}

static vf_status set_double(tc_state *s, const tc_leaf *l, size_t arg)
{
	char *end;
	double v = strtod(l->value, &end);
	if (!*l->value || *end)
		return type_error(s, l, "a number");
	*RUN_FIELD(s, arg, double) = v;
	s->lora_seen = 1;
	return VF_OK;
}

static vf_status set_rank(tc_state *s, const tc_leaf *l, size_t arg)
{
	s->lora_seen = 1;
	return set_u32(s, l, arg);
}

static vf_status set_targets(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	vf_error e;
	s->lora_seen = 1;
	if (vf_targets_parse(l->value, &s->cfg->run.lora.targets, &e))
		return vf_fail(s->err, VF_EINVAL, "%s:%u:%u: key '%s': %s", s->name,
			       l->line, l->col, l->path, e.message);
	return VF_OK;
}

static vf_status set_target_linear(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	bool on;
	vf_status st = parse_bool(s, l, &on);
	if (!st && on)
		s->cfg->run.lora.targets = VF_TARGETS_ALL_LINEAR;
	return st;
}

static vf_status set_quant_type(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	if (vf_streq_ci(l->value, "nf4"))
		s->fp4 = 0;
	else if (vf_streq_ci(l->value, "fp4"))
		s->fp4 = 1;
	else
		return type_error(s, l, "nf4 or fp4");
	return VF_OK;
}

static vf_status set_adapter(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	if (vf_streq_ci(l->value, "lora"))
		s->adapter = 1;
	else if (vf_streq_ci(l->value, "qlora"))
		s->adapter = 2;
	else if (!*l->value || vf_streq_ci(l->value, "null"))
		s->adapter = 0;
	else
		return type_error(s, l, "lora or qlora");
	return VF_OK;
}

/* HF "fsdp": "full_shard auto_wrap"; axolotl: a list; "" or false: off. */
static vf_status set_fsdp(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	if (*l->value && !vf_streq_ci(l->value, "false") &&
	    !vf_streq_ci(l->value, "null"))
		s->cfg->run.strategy = VF_STRATEGY_FSDP;
	return VF_OK;
}

static vf_status set_zero_stage(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	static const vf_strategy stages[] = {VF_STRATEGY_DDP, VF_STRATEGY_ZERO1,
					     VF_STRATEGY_ZERO2, VF_STRATEGY_ZERO3};
	uint32_t v;
	if (is_auto(l))
		return VF_OK;
	vf_status st = parse_u32(s, l, &v);
	if (st)
		return st;
	if (v > 3)
		return type_error(s, l, "a ZeRO stage 0-3");
	s->cfg->run.strategy = stages[v];
	return VF_OK;
}

/* offload_optimizer.device / offload_param.device: cpu or nvme move it. */
static vf_status set_offload(tc_state *s, const tc_leaf *l, size_t arg)
{
	vf_offload *o = &s->cfg->run.offload;
	if (!vf_streq_ci(l->value, "cpu") && !vf_streq_ci(l->value, "nvme"))
		return VF_OK; /* "none" */
	if (arg == VF_OFFLOAD_OPTIMIZER)
		*o = *o == VF_OFFLOAD_PARAMS ? VF_OFFLOAD_OPTIMIZER_PARAMS
					      : VF_OFFLOAD_OPTIMIZER;
	else
		*o = *o == VF_OFFLOAD_OPTIMIZER ? VF_OFFLOAD_OPTIMIZER_PARAMS
						: VF_OFFLOAD_PARAMS;
	return VF_OK;
}

static vf_status set_deepspeed_ref(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)arg;
	/* A path to a DeepSpeed JSON: its settings are not read from here. */
	if (s->cfg->n_warnings < VF_CONFIG_MAX_WARNINGS)
		snprintf(s->cfg->warnings[s->cfg->n_warnings++],
			 VF_CONFIG_WARNING_MAX,
			 "%s:%u:%u: deepspeed config '%s' not read; run "
			 "`vramfit check` on it too", s->name, l->line, l->col,
			 l->value);
	s->cfg->n_warnings_total++;
	return VF_OK;
}

static vf_status set_nothing(tc_state *s, const tc_leaf *l, size_t arg)
{
	(void)s, (void)l, (void)arg;
	return VF_OK;
}

#define RUNF(f) offsetof(vf_run, f)
#define STF(f) offsetof(tc_state, f)

/* Keys TrainingArguments, TRL configs, PEFT LoraConfig and
 * BitsAndBytesConfig share (any nesting: peft_config.r is r). */
static const tc_key hf_keys[] = {
	{"model_name_or_path", set_model, 0},
	{"model_id", set_model, 0},
	{"per_device_train_batch_size", set_u32, RUNF(micro_batch)},
	{"gradient_accumulation_steps", set_u32, RUNF(grad_accum)},
	{"gradient_checkpointing", set_ckpt, 0},
	{"bf16", set_half, STF(bf16)},
	{"fp16", set_half, STF(fp16)},
	{"torch_dtype", set_load_dtype, 0},
	{"dtype", set_load_dtype, 0},
	{"optim", set_optim, 0},
	{"max_seq_length", set_u32, RUNF(seq_len)},
	{"max_length", set_u32, RUNF(seq_len)},
	{"packing", set_packing, 0},
	{"fsdp", set_fsdp, 0},
	{"deepspeed", set_deepspeed_ref, 0},
	{"r", set_rank, RUNF(lora.r)},
	{"lora_r", set_rank, RUNF(lora.r)},
	{"lora_alpha", set_double, RUNF(lora.alpha)},
	{"lora_dropout", set_double, RUNF(lora.dropout)},
	{"target_modules", set_targets, 0},
	{"lora_target_modules", set_targets, 0},
	{"use_dora", set_flag, STF(dora)},
	{"use_peft", set_flag, STF(lora_seen)},
	{"load_in_4bit", set_flag, STF(q4)},
	{"load_in_8bit", set_flag, STF(q8)},
	{"bnb_4bit_quant_type", set_quant_type, 0},
	{"bnb_4bit_use_double_quant", set_flag, STF(dq)},
	{"use_bnb_nested_quant", set_flag, STF(dq)},
	{"attn_implementation", set_attn_impl, 0},
};

static const tc_key axolotl_keys[] = {
	{"base_model", set_model, 0},
	{"adapter", set_adapter, 0},
	{"load_in_4bit", set_flag, STF(q4)},
	{"load_in_8bit", set_flag, STF(q8)},
	{"lora_r", set_rank, RUNF(lora.r)},
	{"lora_alpha", set_double, RUNF(lora.alpha)},
	{"lora_dropout", set_double, RUNF(lora.dropout)},
	{"lora_target_modules", set_targets, 0},
	{"lora_target_linear", set_target_linear, 0},
	{"peft_use_dora", set_flag, STF(dora)},
	{"sequence_len", set_u32, RUNF(seq_len)},
	{"sample_packing", set_packing, 0},
	{"micro_batch_size", set_u32, RUNF(micro_batch)},
	{"gradient_accumulation_steps", set_u32, RUNF(grad_accum)},
	{"gradient_checkpointing", set_ckpt, 0},
	{"bf16", set_half, STF(bf16)},
	{"fp16", set_half, STF(fp16)},
	{"torch_dtype", set_load_dtype, 0},
	{"optimizer", set_optim, 0},
	{"flash_attention", set_flag, STF(flash)},
	{"sdp_attention", set_flag, STF(sdpa)},
	{"deepspeed", set_deepspeed_ref, 0},
	{"fsdp", set_fsdp, 0},
	{"bnb_4bit_quant_type", set_quant_type, 0},
	{"bnb_4bit_use_double_quant", set_flag, STF(dq)},
};

static const tc_key deepspeed_keys[] = {
	{"zero_optimization.stage", set_zero_stage, 0},
	{"zero_optimization.offload_optimizer.device", set_offload,
	 VF_OFFLOAD_OPTIMIZER},
	{"zero_optimization.offload_param.device", set_offload, VF_OFFLOAD_PARAMS},
	{"zero_optimization.reduce_bucket_size", set_bucket, 0},
	{"zero_optimization.allgather_bucket_size", set_nothing, 0},
	{"zero_optimization.stage3_prefetch_bucket_size", set_nothing, 0},
	{"zero_optimization.stage3_param_persistence_threshold", set_nothing, 0},
	{"train_micro_batch_size_per_gpu", set_u32, RUNF(micro_batch)},
	{"gradient_accumulation_steps", set_u32, RUNF(grad_accum)},
	{"bf16.enabled", set_half, STF(bf16)},
	{"fp16.enabled", set_half, STF(fp16)},
	{"activation_checkpointing.partition_activations", set_nothing, 0},
};

/* Keys with no effect on memory, accepted silently (any format). */
static const char *const irrelevant_keys[] = {
	"learning_rate", "lr", "logging_steps", "output_dir", "num_train_epochs",
	"max_steps", "warmup_steps", "warmup_ratio", "warmup_num_steps",
	"lr_scheduler_type", "lr_scheduler", "weight_decay", "save_steps",
	"save_strategy", "save_total_limit", "eval_steps", "eval_strategy",
	"evaluation_strategy", "report_to", "run_name", "seed", "logging_dir",
	"push_to_hub", "hub_model_id", "dataset_text_field", "dataset_name",
	"datasets", "dataset_prepared_path", "val_set_size", "wandb_project",
	"wandb_entity", "wandb_watch", "wandb_name", "wandb_log_model",
	"max_grad_norm", "gradient_clipping", "adam_beta1", "adam_beta2",
	"adam_epsilon", "task_type", "bias", "bnb_4bit_compute_dtype",
	"bnb_4bit_quant_storage", "tf32", "beta", "remove_unused_columns",
	"model_type", "tokenizer_type", "tokenizer_config", "strict",
	"train_on_inputs", "group_by_length", "pad_to_sequence_len",
	"eval_sample_packing", "num_epochs", "saves_per_epoch", "evals_per_epoch",
	"logging_first_step", "special_tokens", "chat_template", "resume_from_checkpoint",
	"local_rank", "xformers_attention", "early_stopping_patience",
	"dataloader_num_workers", "ddp_find_unused_parameters",
	"trust_remote_code", "type", "params", "scheduler", "optimizer.type",
	"steps_per_print", "wall_clock_breakdown", "train_batch_size",
	"zero_allow_untested_optimizer", "overlap_comm", "contiguous_gradients",
	"reduce_scatter", "sub_group_size", "pin_memory", "round_robin_gradients",
	"stage3_max_live_parameters", "stage3_max_reuse_distance",
	"stage3_gather_16bit_weights_on_model_save", "loss_scale",
	"loss_scale_window", "initial_scale_power", "hysteresis",
	"min_loss_scale", "lora_fan_in_fan_out", "gradient_checkpointing_kwargs",
	"use_reentrant", "bnb_config", "quantization_config", "peft_config",
	"lora_config", "fsdp_config",
};

static const struct {
	const tc_key *keys;
	size_t n;
} tables[VF_CONFIG_FORMAT_COUNT] = {
	[VF_CONFIG_HF] = {hf_keys, VF_ARRAY_LEN(hf_keys)},
	[VF_CONFIG_AXOLOTL] = {axolotl_keys, VF_ARRAY_LEN(axolotl_keys)},
	[VF_CONFIG_DEEPSPEED] = {deepspeed_keys, VF_ARRAY_LEN(deepspeed_keys)},
};

static const char *const format_names[VF_CONFIG_FORMAT_COUNT] = {
	"auto", "hf", "axolotl", "deepspeed"};

const char *vf_config_format_name(vf_config_format f)
{
	return (unsigned)f < VF_CONFIG_FORMAT_COUNT ? format_names[f] : "?";
}

bool vf_config_format_from_name(const char *s, vf_config_format *out)
{
	for (int i = 0; i < VF_CONFIG_FORMAT_COUNT; i++)
		if (vf_streq_ci(s, format_names[i]))
			return *out = (vf_config_format)i, true;
	if (vf_streq_ci(s, "trl"))
		return *out = VF_CONFIG_HF, true;
	return false;
}

/* ---- flattening ------------------------------------------------------ */

typedef struct tc_leaves {
	tc_leaf *v;
	size_t n, cap;
} tc_leaves;

static void leaves_free(tc_leaves *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		free((char *)ls->v[i].path);
		free((char *)ls->v[i].value);
	}
	free(ls->v);
}

static vf_status leaf_add(tc_leaves *ls, const char *path, const char *value,
			  unsigned line, unsigned col, vf_error *err)
{
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 64;
		tc_leaf *v = realloc(ls->v, cap * sizeof *v);
		if (!v)
			return vf_fail(err, VF_ENOMEM, "out of memory");
		ls->v = v, ls->cap = cap;
	}
	tc_leaf *l = &ls->v[ls->n];
	l->path = strdup(path);
	l->value = strdup(value);
	if (!l->path || !l->value) {
		free((char *)l->path), free((char *)l->value);
		return vf_fail(err, VF_ENOMEM, "out of memory");
	}
	const char *dot = strrchr(l->path, '.');
	l->key = dot ? dot + 1 : l->path;
	l->line = line, l->col = col;
	ls->n++;
	return VF_OK;
}

#define TC_DEPTH 16
#define TC_TEXT 4096

/*
 * Walk the YAML events. A frame per open mapping/sequence: a mapping
 * alternates key and value; a sequence of scalars under a key is joined
 * into one comma list (target_modules); mappings inside sequences
 * (axolotl datasets) are skipped as data.
 */
static vf_status flatten(const char *name, const char *text, size_t len,
			 tc_leaves *ls, vf_error *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct {
		bool mapping, want_key;
		char key[128];
		unsigned line, col;
		size_t path_len;
		char list[TC_TEXT];
	} st[TC_DEPTH];
	int depth = -1, skip = 0;
	char path[1024] = "";
	vf_status rc = VF_OK;
	if (!yaml_parser_initialize(&p))
		return vf_fail(err, VF_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (bool done = false; !done && !rc;) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = vf_fail(err, VF_EPARSE, "%s:%zu:%zu: %s", name,
				     p.problem_mark.line + 1,
				     p.problem_mark.column + 1,
				     p.problem ? p.problem : "malformed YAML");
			break;
		}
		unsigned line = (unsigned)ev.start_mark.line + 1,
			 col = (unsigned)ev.start_mark.column + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			bool map = ev.type == YAML_MAPPING_START_EVENT;
			if (skip || (depth >= 0 && !st[depth].mapping) ||
			    depth + 1 >= TC_DEPTH) {
				skip++;
				break;
			}
			if (depth >= 0) { /* value of a key: extend the path */
				st[depth].want_key = true;
				size_t pl = strlen(path);
				snprintf(path + pl, sizeof path - pl, "%s%s",
					 pl ? "." : "", st[depth].key);
			}
			depth++;
			st[depth].mapping = map;
			st[depth].want_key = true;
			st[depth].list[0] = '\0';
			st[depth].path_len = strlen(path);
			if (depth > 0) {
				st[depth].line = st[depth - 1].line;
				st[depth].col = st[depth - 1].col;
			}
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (skip) {
				skip--;
				break;
			}
			if (!st[depth].mapping && depth > 0)
				rc = leaf_add(ls, path, st[depth].list,
					      st[depth].line, st[depth].col, err);
			depth--;
			/* drop the last path component */
			{
				char *dot = strrchr(path, '.');
				if (dot)
					*dot = '\0';
				else
					path[0] = '\0';
			}
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			if (skip || depth < 0)
				break;
			if (!st[depth].mapping) {
				size_t n = strlen(st[depth].list);
				snprintf(st[depth].list + n, TC_TEXT - n, "%s%s",
					 n ? "," : "", v);
			} else if (st[depth].want_key) {
				vf_strlcpy(st[depth].key, v, sizeof st[depth].key);
				st[depth].line = line, st[depth].col = col;
				st[depth].want_key = false;
			} else {
				char full[1200];
				snprintf(full, sizeof full, "%s%s%s", path,
					 path[0] ? "." : "", st[depth].key);
				rc = leaf_add(ls, full, v, st[depth].line,
					      st[depth].col, err);
				st[depth].want_key = true;
			}
			break;
		}
		case YAML_ALIAS_EVENT:
			/* a value elsewhere in the file: following it is not
			 * worth the ambiguity, and skipping it would shift
			 * the key/value pairing */
			if (!skip)
				rc = vf_fail(err, VF_EPARSE,
					     "%s:%u:%u: YAML aliases (*name) are "
					     "not supported; write the value",
					     name, line, col);
			break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

/* ---- detection and folding ------------------------------------------ */

static bool has_key(const tc_leaves *ls, const char *key)
{
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->v[i].key, key) == 0 || strcmp(ls->v[i].path, key) == 0)
			return true;
	return false;
}

/* Keys only one format uses decide; HF is the fallback. */
static vf_config_format detect(const tc_leaves *ls)
{
	static const struct {
		const char *key;
		vf_config_format f;
	} marks[] = {
		{"zero_optimization.stage", VF_CONFIG_DEEPSPEED},
		{"train_micro_batch_size_per_gpu", VF_CONFIG_DEEPSPEED},
		{"base_model", VF_CONFIG_AXOLOTL},
		{"micro_batch_size", VF_CONFIG_AXOLOTL},
		{"sequence_len", VF_CONFIG_AXOLOTL},
		{"adapter", VF_CONFIG_AXOLOTL},
	};
	for (size_t i = 0; i < VF_ARRAY_LEN(marks); i++)
		if (has_key(ls, marks[i].key))
			return marks[i].f;
	return VF_CONFIG_HF;
}

static const tc_key *lookup(vf_config_format f, const tc_leaf *l)
{
	for (size_t i = 0; i < tables[f].n; i++) {
		const char *k = tables[f].keys[i].key;
		if (strchr(k, '.') ? strcmp(k, l->path) == 0 : strcmp(k, l->key) == 0)
			return &tables[f].keys[i];
	}
	return NULL;
}

static bool irrelevant(const tc_leaf *l)
{
	/* Under a section that is data, not settings (fsdp_config.*). */
	if (strncmp(l->path, "fsdp_config.", 12) == 0 ||
	    strncmp(l->path, "special_tokens.", 15) == 0 ||
	    strncmp(l->path, "optimizer.", 10) == 0 ||
	    strncmp(l->path, "scheduler.", 10) == 0)
		return true;
	for (size_t i = 0; i < VF_ARRAY_LEN(irrelevant_keys); i++)
		if (strcmp(irrelevant_keys[i], l->key) == 0 ||
		    strcmp(irrelevant_keys[i], l->path) == 0)
			return true;
	return false;
}

/*
 * bf16: true is autocast over whatever the weights were loaded in. HF
 * loads fp32 unless torch_dtype says otherwise (transformers <= 4.57): a
 * full fine-tune is bf16-mixed; a PEFT run without a stated dtype keeps
 * the profile's bf16 base. axolotl loads the model in bf16 when bf16 is
 * set. DeepSpeed's bf16.enabled is its 16-bit engine either way.
 */
static void fold_precision(tc_state *s)
{
	vf_run *r = &s->cfg->run;
	bool half = s->bf16 == 1 || s->fp16 == 1;
	bool bf = s->bf16 == 1;
	if (!half) {
		if (s->load != VF_PRECISION_UNSET)
			r->precision = s->load; /* bf16 weights, no autocast */
		else if (s->bf16 == 0 && s->fp16 == 0 &&
			 s->cfg->format == VF_CONFIG_HF)
			r->precision = VF_PRECISION_FP32;
		return;
	}
	vf_precision true16 = bf ? VF_PRECISION_BF16_TRUE : VF_PRECISION_FP16_TRUE;
	vf_precision mixed = bf ? VF_PRECISION_BF16_MIXED : VF_PRECISION_FP16_MIXED;
	if (s->load == VF_PRECISION_FP32)
		r->precision = mixed;
	else if (s->load != VF_PRECISION_UNSET ||
		 s->cfg->format == VF_CONFIG_AXOLOTL)
		r->precision = true16;
	else if (r->method == VF_METHOD_FULL || r->method == VF_METHOD_UNSET)
		r->precision = s->cfg->format == VF_CONFIG_DEEPSPEED ? true16
								    : mixed;
}

static void finish(tc_state *s)
{
	vf_run *r = &s->cfg->run;
	/* axolotl's 4-bit loader sets bnb_4bit_use_double_quant=True and
	 * nf4 unless the file says otherwise */
	if (s->cfg->format == VF_CONFIG_AXOLOTL && s->dq == -1)
		s->dq = 1;
	if (s->q4 == 1) {
		bool fp4 = s->fp4 == 1;
		if (s->dq == 1)
			r->quant = fp4 ? VF_QUANT_FP4_DQ : VF_QUANT_NF4_DQ;
		else
			r->quant = fp4 ? VF_QUANT_FP4 : VF_QUANT_NF4;
	} else if (s->q8 == 1) {
		r->quant = VF_QUANT_INT8;
	}
	bool adapters = s->adapter || s->lora_seen == 1 || r->lora.r;
	if (s->dora == 1)
		r->method = VF_METHOD_DORA;
	else if (adapters && (s->adapter == 2 || s->q4 == 1))
		r->method = VF_METHOD_QLORA;
	else if (adapters)
		r->method = VF_METHOD_LORA;
	if (s->flash == 1)
		r->attention = VF_ATTN_FLASH2;
	else if (s->sdpa == 1)
		r->attention = VF_ATTN_SDPA;
	else if (s->attention)
		r->attention = s->attention;
	fold_precision(s);
	if (s->cfg->format == VF_CONFIG_AXOLOTL && !r->framework)
		r->framework = VF_FW_OTHER;
}

static void warn(vf_train_config *cfg, const char *name, const tc_leaf *l)
{
	if (cfg->n_warnings < VF_CONFIG_MAX_WARNINGS)
		snprintf(cfg->warnings[cfg->n_warnings++], VF_CONFIG_WARNING_MAX,
			 "%s:%u:%u: unknown key '%s' (ignored)", name, l->line,
			 l->col, l->path);
	cfg->n_warnings_total++;
}

vf_status vf_train_config_parse(vf_train_config *cfg, const char *name,
				const char *text, size_t len,
				vf_config_format format, vf_error *err)
{
	memset(cfg, 0, sizeof *cfg);
	vf_run_init(&cfg->run);
	if ((unsigned)format >= VF_CONFIG_FORMAT_COUNT)
		return vf_fail(err, VF_EINVAL, "unknown config format %d", format);
	/* JSON first through jansson: its messages say what is wrong. */
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\n' ||
			   text[i] == '\t' || text[i] == '\r'))
		i++;
	if (i < len && text[i] == '{') {
		json_error_t je;
		json_t *j = json_loadb(text, len, 0, &je);
		if (!j)
			return vf_fail(err, VF_EPARSE, "%s:%d:%d: %s", name,
				       je.line, je.column, je.text);
		json_decref(j);
	}
	tc_leaves ls = {0};
	vf_status st = flatten(name, text, len, &ls, err);
	if (st) {
		leaves_free(&ls);
		return st;
	}
	cfg->format = format ? format : detect(&ls);
	tc_state s = {.cfg = cfg, .name = name, .err = err, .q4 = -1, .q8 = -1,
		      .dq = -1, .dora = -1, .lora_seen = -1, .fp4 = -1,
		      .flash = -1, .sdpa = -1, .bf16 = -1, .fp16 = -1};
	for (size_t k = 0; k < ls.n && !st; k++) {
		const tc_key *key = lookup(cfg->format, &ls.v[k]);
		if (key)
			st = key->set(&s, &ls.v[k], key->arg);
		else if (!irrelevant(&ls.v[k]))
			warn(cfg, name, &ls.v[k]);
	}
	if (!st)
		finish(&s);
	leaves_free(&ls);
	return st;
}

vf_status vf_train_config_load(vf_train_config *cfg, const char *path,
			       vf_config_format format, vf_error *err)
{
	char *text;
	size_t len;
	vf_status st = vf_read_file(path, &text, &len, 1u << 24, err);
	if (st)
		return st;
	st = vf_train_config_parse(cfg, path, text, len, format, err);
	free(text);
	return st;
}
