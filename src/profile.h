/*
 * profile.h - framework profiles: what each training stack does by default
 * and how it allocates. A profile is a row of data; the estimator reads it
 * instead of branching on the framework. Sources are in
 * docs/memory-model.md, section "Framework profiles".
 */
#ifndef VF_PROFILE_H
#define VF_PROFILE_H

#include "internal.h"

/* How logits and the cross-entropy loss are materialized. */
typedef enum vf_logits_style {
	/* logits in compute dtype, CE in that dtype (litgpt bf16-true):
	 * lsm saved in compute dtype. */
	VF_LOGITS_NATIVE,
	/* transformers >= 4.46 ForCausalLMLoss: logits.float() before CE:
	 * fp32 copy transient, fp32 log_softmax saved. */
	VF_LOGITS_UPCAST,
	/* transformers < 4.46 LlamaForCausalLM: logits.float() in forward
	 * (the fp32 logits live in the output), then a contiguous fp32 copy
	 * of the shifted logits, then CE [MM §2.1 v4.38-era]. */
	VF_LOGITS_UPCAST_SHIFTED,
} vf_logits_style;

typedef struct vf_profile {
	vf_framework framework;
	/* Defaults for the schema's nulls. */
	vf_precision precision;      /* PEFT methods and inference */
	vf_precision precision_full; /* full fine-tuning; 0: as above */
	vf_optimizer optimizer;
	vf_optimizer optimizer_quant;  /* default with a quantized base */
	vf_ckpt ckpt_full;             /* gradient checkpointing, full FT */
	vf_ckpt ckpt_peft;             /* ... adapters */
	vf_attention attention;
	vf_loss loss;
	vf_quant quant_nf4;            /* what "nf4" means (double quant?) */
	vf_targets lora_targets;
	uint32_t lora_r;
	double lora_dropout;
	uint32_t micro_batch;
	uint32_t seq_len;
	uint32_t loss_chunks;          /* chunked CE: number of chunks */
	/* Allocation behaviour. */
	bool adapters_fp32;            /* PEFT autocast_adapter_dtype=True */
	bool kbit_fp32_cast;           /* prepare_model_for_kbit_training */
	bool amp_logits_fp32_copy;     /* accelerate convert_outputs_to_fp32 */
	bool keeps_logits_in_backward; /* loop holds the logits during bwd */
	bool frozen_saves_inputs;      /* frozen linears still save inputs */
	bool fsdp_flat_grads;          /* FSDP1 flat params: grads for all */
	bool lora_fused_qkv;           /* one LoRA on a fused qkv linear */
	bool ckpt_every_k;             /* its config can checkpoint every
					* k-th layer (torchtune ac_option,
					* torchtitan selective_ac_option);
					* HF, litgpt and axolotl checkpoint
					* every layer or none */
	bool uses_transformers;        /* model code and loss from HF
					* transformers (its version rules
					* apply) */
	bool bnb4_saves_input;         /* bitsandbytes < 0.43.2 MatMul4Bit
					* keeps its input for backward */
	bool ckpt_selective_mm;        /* "checkpointing" is torchtitan's
					* selective op AC: every other matmul
					* output and attention are saved */
	vf_logits_style logits;
	vf_phases phases;              /* default measured window */
} vf_profile;

const vf_profile *vf_profile_for(vf_framework fw);

/* The profile of `run`'s framework with the rules for the package
 * versions the run states applied (versions it leaves 0 keep the row's
 * documented behaviour). */
void vf_profile_for_run(const vf_run *run, vf_profile *out);

/* vf_run_resolve that also hands back the run's profile, so that the
 * estimator (millions of calls per plan) builds it once. */
vf_status vf_run_resolve_profile(const vf_run *in, const vf_model *model,
				 vf_run *out, vf_profile *profile,
				 vf_error *err);

#endif
