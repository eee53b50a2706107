/*
 * profile.c - the framework profile table. Each value cites where it comes
 * from in docs/memory-model.md ("Framework profiles").
 */
#include "profile.h"

/* Rows start from a shared base and override some fields on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define QV (VF_TARGET(VF_ROLE_Q) | VF_TARGET(VF_ROLE_V))

/* HF Trainer + PEFT + bitsandbytes (transformers 4.4x, PEFT >= 0.12):
 * TrainingArguments defaults (no checkpointing, adamw_torch), bf16=True
 * as people set it: full fine-tuning keeps from_pretrained's fp32 weights
 * under bf16 autocast (bf16-mixed); PEFT runs load the frozen base with
 * torch_dtype=bfloat16 and keep the adapters in fp32 (bf16-true with
 * adapters_fp32), PEFT LoraConfig r=8 dropout 0.0 on q,v for Llama,
 * BitsAndBytesConfig double quant off, ForCausalLMLoss upcast. */
#define HF_BASE                                                                \
	.precision = VF_PRECISION_BF16_TRUE,                                   \
	.precision_full = VF_PRECISION_BF16_MIXED,                             \
	.optimizer = VF_OPTIM_ADAMW,                                           \
	.optimizer_quant = VF_OPTIM_ADAMW, .ckpt_full = VF_CKPT_OFF,           \
	.ckpt_peft = VF_CKPT_OFF, .attention = VF_ATTN_SDPA,                   \
	.loss = VF_LOSS_STANDARD, .quant_nf4 = VF_QUANT_NF4,                   \
	.lora_targets = QV, .lora_r = 8, .lora_dropout = 0.0,                  \
	.micro_batch = 8, .seq_len = 1024, .loss_chunks = 1,                  \
	.adapters_fp32 = true, .kbit_fp32_cast = true,                         \
	.amp_logits_fp32_copy = true, .uses_transformers = true,              \
	.logits = VF_LOGITS_UPCAST, .phases = VF_PHASES_TRAIN

static const vf_profile profiles[VF_FW_COUNT] = {
	[VF_FW_HF_TRAINER] = {VF_FW_HF_TRAINER, HF_BASE},
	/* TRL SFTTrainer >= 0.22: gradient_checkpointing defaults to True,
	 * max_length 1024. */
	[VF_FW_TRL] = {VF_FW_TRL, HF_BASE, .ckpt_full = VF_CKPT_ON,
		       .ckpt_peft = VF_CKPT_ON},
	/* transformers + PEFT in a custom loop: no accelerate AMP wrapper. */
	[VF_FW_PEFT] = {VF_FW_PEFT, HF_BASE, .amp_logits_fp32_copy = false},
	/* fms-hf-tuning: HF Trainer with its scenario defaults (checkpointing,
	 * flash-attn, packing). */
	[VF_FW_FMS_HF_TUNING] = {VF_FW_FMS_HF_TUNING, HF_BASE,
				 .ckpt_full = VF_CKPT_ON,
				 .ckpt_peft = VF_CKPT_ON,
				 .attention = VF_ATTN_FLASH2},
	/* litgpt: own model code, bf16-true, LoRA on q,v r=8 dropout 0.05 in
	 * the model dtype, CE on the bf16 logits, bnb PagedAdamW for 4-bit;
	 * the script keeps `logits` alive through backward. */
	[VF_FW_LITGPT] = {VF_FW_LITGPT, .precision = VF_PRECISION_BF16_TRUE,
			  .optimizer = VF_OPTIM_ADAMW,
			  .optimizer_quant = VF_OPTIM_PAGED_ADAMW,
			  .ckpt_full = VF_CKPT_OFF, .ckpt_peft = VF_CKPT_OFF,
			  .attention = VF_ATTN_SDPA, .loss = VF_LOSS_STANDARD,
			  .quant_nf4 = VF_QUANT_NF4, .lora_targets = QV,
			  .lora_r = 8, .lora_dropout = 0.05, .micro_batch = 1,
			  .seq_len = 512, .loss_chunks = 1,
			  .keeps_logits_in_backward = true,
			  .frozen_saves_inputs = true,
			  .fsdp_flat_grads = true,
			  .lora_fused_qkv = true,
			  .logits = VF_LOGITS_NATIVE,
			  .phases = VF_PHASES_TRAIN_GENERATE},
	[VF_FW_LIGHTNING] = {VF_FW_LIGHTNING,
			     .precision = VF_PRECISION_BF16_MIXED,
			     .optimizer = VF_OPTIM_ADAMW,
			     .optimizer_quant = VF_OPTIM_ADAMW,
			     .ckpt_full = VF_CKPT_OFF, .ckpt_peft = VF_CKPT_OFF,
			     .attention = VF_ATTN_SDPA,
			     .loss = VF_LOSS_STANDARD,
			     .quant_nf4 = VF_QUANT_NF4, .lora_targets = QV,
			     .lora_r = 8, .lora_dropout = 0.0,
			     .micro_batch = 1, .seq_len = 512, .loss_chunks = 1,
			     .keeps_logits_in_backward = true,
			     .logits = VF_LOGITS_NATIVE,
			     .phases = VF_PHASES_TRAIN},
	/* torchtune recipes: bf16 everywhere, checkpointing on, CE on logits
	 * upcast to fp32; chunked CE (8 chunks) when stated. */
	[VF_FW_TORCHTUNE] = {VF_FW_TORCHTUNE,
			     .precision = VF_PRECISION_BF16_TRUE,
			     .optimizer = VF_OPTIM_ADAMW,
			     .optimizer_quant = VF_OPTIM_ADAMW,
			     .ckpt_full = VF_CKPT_ON, .ckpt_peft = VF_CKPT_ON,
			     .attention = VF_ATTN_SDPA,
			     .loss = VF_LOSS_STANDARD,
			     .quant_nf4 = VF_QUANT_NF4,
			     .lora_targets = QV, .lora_r = 8,
			     .lora_dropout = 0.0, .micro_batch = 2,
			     .seq_len = 512, .loss_chunks = 8,
			     .keeps_logits_in_backward = true,
			     .ckpt_every_k = true,
			     .logits = VF_LOGITS_UPCAST,
			     .phases = VF_PHASES_TRAIN},
	/* torchtitan: FSDP2 with bf16 compute over fp32 sharded params. */
	[VF_FW_TORCHTITAN] = {VF_FW_TORCHTITAN,
			      .precision = VF_PRECISION_BF16_MIXED,
			      .optimizer = VF_OPTIM_ADAMW,
			      .optimizer_quant = VF_OPTIM_ADAMW,
			      .ckpt_full = VF_CKPT_ON, .ckpt_peft = VF_CKPT_ON,
			      .attention = VF_ATTN_SDPA,
			      .loss = VF_LOSS_STANDARD,
			      .quant_nf4 = VF_QUANT_NF4, .micro_batch = 1,
			      .seq_len = 8192, .loss_chunks = 1,
			      .keeps_logits_in_backward = false,
			      .ckpt_selective_mm = true,
			      .ckpt_every_k = true,
			      .logits = VF_LOGITS_UPCAST,
			      .phases = VF_PHASES_TRAIN},
	[VF_FW_UNSLOTH] = {VF_FW_UNSLOTH, HF_BASE, .ckpt_full = VF_CKPT_OFFLOAD,
			   .ckpt_peft = VF_CKPT_OFFLOAD,
			   .loss = VF_LOSS_FUSED, .quant_nf4 = VF_QUANT_NF4_DQ,
			   .lora_r = 16},
	[VF_FW_LLAMA_FACTORY] = {VF_FW_LLAMA_FACTORY, HF_BASE},
	[VF_FW_FSDP_QLORA] = {VF_FW_FSDP_QLORA, HF_BASE,
			      .ckpt_peft = VF_CKPT_ON},
	[VF_FW_OTHER] = {VF_FW_OTHER, HF_BASE},
};

const vf_profile *vf_profile_for(vf_framework fw)
{
	return (unsigned)fw < VF_FW_COUNT ? &profiles[fw]
					  : &profiles[VF_FW_HF_TRAINER];
}

/*
 * Version rules: where a release changed what a step allocates. A rule
 * applies when the run states the package's version and it lies in
 * [since, before); an unstated version keeps the row as documented above
 * (the behaviour of the releases current when the row was written).
 * Sources: docs/memory-model.md, "Framework versions".
 */
typedef struct version_rule {
	vf_package pkg;
	uint32_t since, before;      /* 0: unbounded */
	bool transformers_only;      /* HF-based profiles only */
	vf_framework only;           /* this framework only; VF_FW_COUNT: any */
	void (*apply)(vf_profile *p);
} version_rule;

static void shifted_upcast_logits(vf_profile *p)
{
	p->logits = VF_LOGITS_UPCAST_SHIFTED;
}

static void adapters_in_model_dtype(vf_profile *p)
{
	p->adapters_fp32 = false;
}

static void no_default_checkpointing(vf_profile *p)
{
	p->ckpt_full = p->ckpt_peft = VF_CKPT_OFF;
}

static void chunked_nll_loss(vf_profile *p)
{
	p->loss = VF_LOSS_FUSED;
}

static void bnb4_keeps_input(vf_profile *p)
{
	p->bnb4_saves_input = true;
}

static const version_rule version_rules[] = {
	/* The v4.46 loss refactor moved CE into ForCausalLMLoss, which
	 * pads the labels instead of copying shifted logits [MM §2.1]. */
	{VF_PKG_TRANSFORMERS, 0, VF_VERSION(4, 46, 0), true, VF_FW_COUNT,
	 shifted_upcast_logits},
	/* PEFT 0.12 (#1706) added autocast_adapter_dtype=True [MM §4]. */
	{VF_PKG_PEFT, 0, VF_VERSION(0, 12, 0), true, VF_FW_COUNT,
	 adapters_in_model_dtype},
	/* SFTConfig gradient_checkpointing=True from v0.22.0 [MM §2.3]. */
	{VF_PKG_TRL, 0, VF_VERSION(0, 22, 0), true, VF_FW_TRL,
	 no_default_checkpointing},
	/* loss_type="chunked_nll" by default from v1.7.0: the lm_head is
	 * applied in 256-row chunks under checkpointing [MM §2.3]. */
	{VF_PKG_TRL, VF_VERSION(1, 7, 0), 0, true, VF_FW_TRL,
	 chunked_nll_loss},
	/* bitsandbytes PR #1270 (merged 2024-07-16, first in 0.43.2):
	 * before it MatMul4Bit stored ctx.tensors = (A, B), its input for
	 * a weight gradient that a frozen base never computes [MM §5.2]. */
	{VF_PKG_BITSANDBYTES, 0, VF_VERSION(0, 43, 2), false, VF_FW_COUNT,
	 bnb4_keeps_input},
};

void vf_profile_for_run(const vf_run *run, vf_profile *out)
{
	*out = *vf_profile_for(run->framework);
	for (size_t i = 0; i < VF_ARRAY_LEN(version_rules); i++) {
		const version_rule *v = &version_rules[i];
		uint32_t have = run->versions[v->pkg];
		if (!have || (v->since && have < v->since) ||
		    (v->before && have >= v->before))
			continue;
		if ((v->transformers_only && !out->uses_transformers) ||
		    (v->only != VF_FW_COUNT && v->only != run->framework))
			continue;
		v->apply(out);
	}
}
