/*
 * names.c - the lowercase names of every enum, as the calibration schema
 * (docs/run-schema.md) spells them, plus documented aliases. The first entry
 * for a value is its canonical name.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct name_entry {
	const char *name;
	int value;
} name_entry;

static const char *name_of(const name_entry *t, size_t n, int value)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == value)
			return t[i].name;
	return "unset";
}

static bool value_of(const name_entry *t, size_t n, const char *s, int *out)
{
	if (!s)
		return false;
	for (size_t i = 0; i < n; i++)
		if (vf_streq_ci(t[i].name, s)) {
			*out = t[i].value;
			return true;
		}
	return false;
}

#define NAME_FUNCS(type, prefix, table)                                        \
	const char *prefix##_name(type v)                                      \
	{                                                                      \
		return name_of(table, VF_ARRAY_LEN(table), (int)v);            \
	}                                                                      \
	bool prefix##_from_name(const char *s, type *out)                      \
	{                                                                      \
		int v;                                                         \
		if (!value_of(table, VF_ARRAY_LEN(table), s, &v))              \
			return false;                                          \
		*out = (type)v;                                                \
		return true;                                                   \
	}

static const name_entry dtype_names[] = {
	{"fp32", VF_DTYPE_FP32}, {"float32", VF_DTYPE_FP32},
	{"float", VF_DTYPE_FP32}, {"fp16", VF_DTYPE_FP16},
	{"float16", VF_DTYPE_FP16}, {"half", VF_DTYPE_FP16},
	{"bf16", VF_DTYPE_BF16}, {"bfloat16", VF_DTYPE_BF16},
	{"fp8", VF_DTYPE_FP8}, {"float8_e4m3fn", VF_DTYPE_FP8},
	{"int8", VF_DTYPE_INT8}, {"uint8", VF_DTYPE_INT8},
	{"nf4", VF_DTYPE_NF4}, {"fp4", VF_DTYPE_FP4},
	{"fp64", VF_DTYPE_FP64}, {"float64", VF_DTYPE_FP64},
};
NAME_FUNCS(vf_dtype, vf_dtype, dtype_names)

unsigned vf_dtype_bits(vf_dtype d)
{
	static const unsigned bits[VF_DTYPE_COUNT] = {
		[VF_DTYPE_FP32] = 32, [VF_DTYPE_FP16] = 16,
		[VF_DTYPE_BF16] = 16, [VF_DTYPE_FP8] = 8,
		[VF_DTYPE_INT8] = 8,  [VF_DTYPE_NF4] = 4,
		[VF_DTYPE_FP4] = 4,   [VF_DTYPE_FP64] = 64,
	};
	return (unsigned)d < VF_DTYPE_COUNT ? bits[d] : 0;
}

static const name_entry method_names[] = {
	{"full", VF_METHOD_FULL},
	{"lora", VF_METHOD_LORA},
	{"qlora", VF_METHOD_QLORA},
	{"dora", VF_METHOD_DORA},
	{"frozen-subset", VF_METHOD_FROZEN_SUBSET},
	{"frozen", VF_METHOD_FROZEN},
	{"inference", VF_METHOD_INFERENCE},
};
NAME_FUNCS(vf_method, vf_method, method_names)

static const name_entry precision_names[] = {
	{"fp32", VF_PRECISION_FP32},
	{"fp16-mixed", VF_PRECISION_FP16_MIXED},
	{"bf16-mixed", VF_PRECISION_BF16_MIXED},
	{"fp16-true", VF_PRECISION_FP16_TRUE},
	{"bf16-true", VF_PRECISION_BF16_TRUE},
	{"bf16", VF_PRECISION_BF16_TRUE},
	{"fp16", VF_PRECISION_FP16_TRUE},
};
NAME_FUNCS(vf_precision, vf_precision, precision_names)

static const name_entry quant_names[] = {
	{"none", VF_QUANT_NONE},   {"nf4", VF_QUANT_NF4},
	{"nf4-dq", VF_QUANT_NF4_DQ}, {"fp4", VF_QUANT_FP4},
	{"fp4-dq", VF_QUANT_FP4_DQ}, {"int8", VF_QUANT_INT8},
};
NAME_FUNCS(vf_quant, vf_quant, quant_names)

static const name_entry optimizer_names[] = {
	{"adamw", VF_OPTIM_ADAMW},
	{"adamw-fused", VF_OPTIM_ADAMW_FUSED},
	{"adamw-8bit", VF_OPTIM_ADAMW_8BIT},
	{"paged-adamw", VF_OPTIM_PAGED_ADAMW},
	{"paged-adamw-8bit", VF_OPTIM_PAGED_ADAMW_8BIT},
	{"adafactor", VF_OPTIM_ADAFACTOR},
	{"sgd", VF_OPTIM_SGD},
	{"sgd-momentum", VF_OPTIM_SGD_MOMENTUM},
	{"lion", VF_OPTIM_LION},
	{"lion-8bit", VF_OPTIM_LION_8BIT},
	{"adam", VF_OPTIM_ADAM},
	{"adam-8bit", VF_OPTIM_ADAM_8BIT},
	/* HF TrainingArguments `optim` spellings */
	{"adamw_torch", VF_OPTIM_ADAMW},
	{"adamw_hf", VF_OPTIM_ADAMW},
	{"adamw_torch_fused", VF_OPTIM_ADAMW_FUSED},
	{"adamw_bnb_8bit", VF_OPTIM_ADAMW_8BIT},
	{"adamw_8bit", VF_OPTIM_ADAMW_8BIT},
	{"paged_adamw_32bit", VF_OPTIM_PAGED_ADAMW},
	{"paged_adamw_8bit", VF_OPTIM_PAGED_ADAMW_8BIT},
	{"lion_32bit", VF_OPTIM_LION},
	{"lion_8bit", VF_OPTIM_LION_8BIT},
};
NAME_FUNCS(vf_optimizer, vf_optimizer, optimizer_names)

static const name_entry ckpt_names[] = {
	{"off", VF_CKPT_OFF},
	{"on", VF_CKPT_ON},
	{"offload", VF_CKPT_OFFLOAD},
};
const char *vf_ckpt_name(vf_ckpt v)
{
	return name_of(ckpt_names, VF_ARRAY_LEN(ckpt_names), (int)v);
}

static const name_entry attention_names[] = {
	{"eager", VF_ATTN_EAGER},   {"sdpa", VF_ATTN_SDPA},
	{"flash2", VF_ATTN_FLASH2}, {"flex", VF_ATTN_FLEX},
	{"flash_attention_2", VF_ATTN_FLASH2}, {"fa2", VF_ATTN_FLASH2},
};
NAME_FUNCS(vf_attention, vf_attention, attention_names)

static const name_entry loss_names[] = {
	{"standard", VF_LOSS_STANDARD},
	{"chunked", VF_LOSS_CHUNKED},
	{"fused-linear-ce", VF_LOSS_FUSED},
};
NAME_FUNCS(vf_loss, vf_loss, loss_names)

static const name_entry objective_names[] = {
	{"sft", VF_OBJ_SFT},   {"cpt", VF_OBJ_CPT},
	{"continued-pretraining", VF_OBJ_CPT},
	{"pretrain", VF_OBJ_PRETRAIN}, {"pretraining", VF_OBJ_PRETRAIN},
	{"dpo", VF_OBJ_DPO},   {"kto", VF_OBJ_KTO},
};
NAME_FUNCS(vf_objective, vf_objective, objective_names)

static const name_entry strategy_names[] = {
	{"single", VF_STRATEGY_SINGLE}, {"ddp", VF_STRATEGY_DDP},
	{"fsdp", VF_STRATEGY_FSDP},     {"zero1", VF_STRATEGY_ZERO1},
	{"zero2", VF_STRATEGY_ZERO2},   {"zero3", VF_STRATEGY_ZERO3},
};
NAME_FUNCS(vf_strategy, vf_strategy, strategy_names)

static const name_entry offload_names[] = {
	{"none", VF_OFFLOAD_NONE},
	{"optimizer", VF_OFFLOAD_OPTIMIZER},
	{"params", VF_OFFLOAD_PARAMS},
	{"optimizer+params", VF_OFFLOAD_OPTIMIZER_PARAMS},
};
NAME_FUNCS(vf_offload, vf_offload, offload_names)

static const name_entry framework_names[] = {
	{"hf-trainer", VF_FW_HF_TRAINER},
	{"trl", VF_FW_TRL},
	{"peft", VF_FW_PEFT},
	{"fms-hf-tuning", VF_FW_FMS_HF_TUNING},
	{"litgpt", VF_FW_LITGPT},
	{"torchtune", VF_FW_TORCHTUNE},
	{"torchtitan", VF_FW_TORCHTITAN},
	{"lightning", VF_FW_LIGHTNING},
	{"unsloth", VF_FW_UNSLOTH},
	{"llama-factory", VF_FW_LLAMA_FACTORY},
	{"fsdp_qlora", VF_FW_FSDP_QLORA},
	{"other", VF_FW_OTHER},
	{"hf", VF_FW_HF_TRAINER},
};
NAME_FUNCS(vf_framework, vf_framework, framework_names)

static const name_entry phases_names[] = {
	{"train", VF_PHASES_TRAIN},
	{"train+eval", VF_PHASES_TRAIN_EVAL},
	{"train+generate", VF_PHASES_TRAIN_GENERATE},
	{"inference", VF_PHASES_INFERENCE},
};
NAME_FUNCS(vf_phases, vf_phases, phases_names)

static const char *const component_names[VF_COMP_COUNT] = {
	[VF_COMP_WEIGHTS] = "weights",
	[VF_COMP_ADAPTERS] = "adapters",
	[VF_COMP_MASTER_WEIGHTS] = "master_weights",
	[VF_COMP_GRADIENTS] = "gradients",
	[VF_COMP_OPTIMIZER] = "optimizer_states",
	[VF_COMP_REFERENCE] = "reference_model",
	[VF_COMP_ACTIVATIONS] = "activations",
	[VF_COMP_LOGITS] = "logits_and_loss",
	[VF_COMP_TRANSIENT] = "temporaries",
	[VF_COMP_COMM] = "communication_buffers",
	[VF_COMP_WORKSPACE] = "cublas_workspace",
	[VF_COMP_ALLOCATOR] = "allocator_reserve",
	[VF_COMP_CUDA_CONTEXT] = "cuda_context",
	[VF_COMP_NON_TORCH] = "non_torch",
};

const char *vf_component_name(vf_component c)
{
	return (unsigned)c < VF_COMP_COUNT ? component_names[c] : "?";
}

static const char *const phase_names[VF_PHASE_COUNT] = {
	[VF_PHASE_LOAD] = "load",
	[VF_PHASE_FORWARD] = "forward",
	[VF_PHASE_BACKWARD] = "backward",
	[VF_PHASE_OPTIMIZER] = "optimizer_step",
	[VF_PHASE_EVAL] = "eval",
};

const char *vf_phase_name(vf_phase p)
{
	return (unsigned)p < VF_PHASE_COUNT ? phase_names[p] : "?";
}

/* LoRA target names: the schema's normalized names plus HF module names. */
static const name_entry target_names[] = {
	{"q", VF_ROLE_Q},       {"k", VF_ROLE_K},       {"v", VF_ROLE_V},
	{"qkv", VF_ROLE_QKV},   {"o", VF_ROLE_O},       {"gate", VF_ROLE_GATE},
	{"up", VF_ROLE_UP},     {"gate_up", VF_ROLE_GATE_UP},
	{"down", VF_ROLE_DOWN}, {"fc1", VF_ROLE_FC1},   {"fc2", VF_ROLE_FC2},
	{"embed", VF_ROLE_EMBED}, {"lm_head", VF_ROLE_LM_HEAD},
	{"q_proj", VF_ROLE_Q},  {"k_proj", VF_ROLE_K},  {"v_proj", VF_ROLE_V},
	{"o_proj", VF_ROLE_O},  {"gate_proj", VF_ROLE_GATE},
	{"up_proj", VF_ROLE_UP}, {"down_proj", VF_ROLE_DOWN},
	{"qkv_proj", VF_ROLE_QKV}, {"query_key_value", VF_ROLE_QKV},
	{"c_attn", VF_ROLE_QKV}, {"gate_up_proj", VF_ROLE_GATE_UP},
	{"embed_tokens", VF_ROLE_EMBED},
};

vf_status vf_targets_parse(const char *list, vf_targets *out, vf_error *err)
{
	vf_targets t = 0;
	char buf[512];
	if (!list || !*list)
		return vf_fail(err, VF_EINVAL, "LoRA targets: empty list");
	vf_strlcpy(buf, list, sizeof buf);
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		int role;
		if (vf_streq_ci(tok, "all-linear") ||
		    vf_streq_ci(tok, "all_linear")) {
			t |= VF_TARGETS_ALL_LINEAR;
			continue;
		}
		if (!value_of(target_names, VF_ARRAY_LEN(target_names), tok,
			      &role))
			return vf_fail(err, VF_EINVAL,
				       "LoRA targets: unknown module \"%s\" "
				       "(use q,k,v,qkv,o,gate,up,gate_up,down,"
				       "fc1,fc2,embed,lm_head,all-linear)",
				       tok);
		t |= VF_TARGET(role);
	}
	*out = t;
	return VF_OK;
}

size_t vf_targets_format(vf_targets t, char *buf, size_t size)
{
	size_t n = 0;
	if (size)
		buf[0] = '\0';
	bool all = (t & VF_TARGETS_ALL_LINEAR) == VF_TARGETS_ALL_LINEAR;
	for (int r = 0; r < VF_ROLE_COUNT; r++) {
		const char *name;
		if (all && (VF_TARGET(r) & VF_TARGETS_ALL_LINEAR)) {
			if (r != VF_ROLE_Q)
				continue;
			name = "all-linear";
		} else if (t & VF_TARGET(r)) {
			name = vf_role_name((vf_role)r);
		} else {
			continue;
		}
		int w = snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0,
				 "%s%s", n ? "," : "", name);
		if (w > 0)
			n += (size_t)w;
	}
	return n;
}

static const name_entry prefer_names[] = {
	{"speed", VF_PREFER_SPEED},
	{"context", VF_PREFER_CONTEXT},
	{"quality", VF_PREFER_QUALITY},
};
NAME_FUNCS(vf_prefer, vf_prefer, prefer_names)
