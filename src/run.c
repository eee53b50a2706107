/*
 * run.c - run descriptions: defaults from the framework profile, and the
 * checks that turn absurd inputs into one clear error.
 */
#include "profile.h"

#include <math.h>
#include <string.h>

/* Beyond these an input is a mistake, not a training run. */
#define MAX_MICRO_BATCH 4096u
#define MAX_SEQ_LEN 524288u      /* 512 Ki tokens */
#define MAX_GRAD_ACCUM 65536u
#define MAX_GPUS 1024u
#define MAX_LORA_R 65536u

void vf_run_init(vf_run *run)
{
	memset(run, 0, sizeof *run);
	run->framework = VF_FW_HF_TRAINER;
	run->lora.dropout = -1;
	run->optimizer_in_backward = -1;
	run->packing = -1;
	run->compile = -1;
	run->activation_offload = -1;
	run->quant_storage = VF_DTYPE_INT8;
}

static bool method_has_adapters(vf_method m)
{
	return m == VF_METHOD_LORA || m == VF_METHOD_QLORA ||
	       m == VF_METHOD_DORA;
}

static bool method_trains(vf_method m)
{
	return m != VF_METHOD_FROZEN && m != VF_METHOD_INFERENCE;
}

/* Smallest in/out dimension among the linears the targets select. */
static uint64_t smallest_targeted_dim(const vf_model *m, vf_targets t)
{
	uint64_t best = UINT64_MAX;
	for (unsigned i = 0; i < m->n_linears; i++) {
		const vf_linear *l = &m->linears[i];
		if (!(t & VF_TARGET(l->role)))
			continue;
		best = vf_min(best, vf_min(l->in_features, l->out_features));
	}
	if (t & (VF_TARGET(VF_ROLE_EMBED) | VF_TARGET(VF_ROLE_LM_HEAD)))
		best = vf_min(best, m->arch.hidden_size);
	return best;
}

/* The model's linears a target set actually hits (fused names differ). */
static vf_targets map_targets(const vf_model *m, vf_targets t)
{
	vf_targets present = VF_TARGET(VF_ROLE_EMBED) |
			     VF_TARGET(VF_ROLE_LM_HEAD);
	for (unsigned i = 0; i < m->n_linears; i++)
		present |= VF_TARGET(m->linears[i].role);
	/* q/k/v on a fused projection adapt the fused matrix (litgpt keeps
	 * one slice per enabled projection; the schema calls that q,k,v). */
	if ((present & VF_TARGET(VF_ROLE_QKV)) &&
	    (t & (VF_TARGET(VF_ROLE_Q) | VF_TARGET(VF_ROLE_K) |
		  VF_TARGET(VF_ROLE_V))))
		t |= VF_TARGET(VF_ROLE_QKV);
	if ((present & VF_TARGET(VF_ROLE_GATE_UP)) &&
	    (t & (VF_TARGET(VF_ROLE_GATE) | VF_TARGET(VF_ROLE_UP))))
		t |= VF_TARGET(VF_ROLE_GATE_UP);
	/* Two-matrix MLPs: gate/up mean fc1, down means fc2. */
	if ((present & VF_TARGET(VF_ROLE_FC1)) &&
	    (t & (VF_TARGET(VF_ROLE_GATE) | VF_TARGET(VF_ROLE_UP))))
		t |= VF_TARGET(VF_ROLE_FC1);
	if ((present & VF_TARGET(VF_ROLE_FC2)) && (t & VF_TARGET(VF_ROLE_DOWN)))
		t |= VF_TARGET(VF_ROLE_FC2);
	return t;
}

vf_status vf_run_resolve(const vf_run *in, const vf_model *model, vf_run *out,
			 vf_error *err)
{
	vf_profile profile;
	return vf_run_resolve_profile(in, model, out, &profile, err);
}

vf_status vf_run_resolve_profile(const vf_run *in, const vf_model *model,
				 vf_run *out, vf_profile *profile,
				 vf_error *err)
{
	vf_run r = *in;
	if ((unsigned)r.framework >= VF_FW_COUNT)
		return vf_fail(err, VF_EINVAL, "unknown framework");
	/* resolving changes neither the framework nor the versions: the
	 * profile found here is the resolved run's too */
	vf_profile_for_run(&r, profile);
	const vf_profile *p = profile;

	if (r.method == VF_METHOD_UNSET)
		r.method = r.quant != VF_QUANT_NONE ? VF_METHOD_QLORA
						    : VF_METHOD_FULL;
	if (r.method == VF_METHOD_QLORA && r.quant == VF_QUANT_NONE)
		r.quant = p->quant_nf4;
	if (r.quant != VF_QUANT_NONE && r.method == VF_METHOD_FULL)
		return vf_fail(err, VF_EINVAL,
			       "--quant %s: a quantized base cannot be fully "
			       "fine-tuned (use --method qlora)",
			       vf_quant_name(r.quant));
	if (r.quant != VF_QUANT_NONE && r.method == VF_METHOD_LORA)
		r.method = VF_METHOD_QLORA;
	if (r.precision == VF_PRECISION_UNSET)
		r.precision = r.method == VF_METHOD_FULL && p->precision_full
			? p->precision_full : p->precision;
	bool trains = method_trains(r.method);
	if (r.optimizer == VF_OPTIM_UNSET && trains)
		r.optimizer = r.quant != VF_QUANT_NONE ? p->optimizer_quant
						       : p->optimizer;
	if (r.attention == VF_ATTN_UNSET)
		r.attention = p->attention;
	if (r.loss == VF_LOSS_UNSET)
		r.loss = p->loss;
	if (r.grad_ckpt == VF_CKPT_UNSET)
		r.grad_ckpt = trains ? (r.method == VF_METHOD_FULL
						? p->ckpt_full
						: p->ckpt_peft)
				     : VF_CKPT_OFF;
	if (r.micro_batch == 0)
		r.micro_batch = trains || r.method == VF_METHOD_INFERENCE
					? p->micro_batch
					: 1;
	if (r.seq_len == 0)
		r.seq_len = p->seq_len;
	if (r.grad_accum == 0)
		r.grad_accum = 1;
	if (r.n_gpus == 0)
		r.n_gpus = 1;
	if (r.strategy == VF_STRATEGY_UNSET)
		r.strategy = r.n_gpus > 1 ? VF_STRATEGY_DDP : VF_STRATEGY_SINGLE;
	/* CPU offload is DeepSpeed's: ZeRO-Offload (stage 2) for the
	 * optimizer, ZeRO-Infinity (stage 3) once parameters go too [MM §7.1] */
	if (r.offload != VF_OFFLOAD_NONE &&
	    (r.strategy == VF_STRATEGY_SINGLE || r.strategy == VF_STRATEGY_DDP))
		r.strategy = r.offload == VF_OFFLOAD_OPTIMIZER ? VF_STRATEGY_ZERO2
							       : VF_STRATEGY_ZERO3;
	/* DeepSpeed's 16-bit engine is one regime whatever the load dtype:
	 * 16-bit module, fp32 master partitions (docs/memory-model.md) */
	bool zero = r.strategy == VF_STRATEGY_ZERO1 ||
		    r.strategy == VF_STRATEGY_ZERO2 ||
		    r.strategy == VF_STRATEGY_ZERO3;
	if (zero && r.precision == VF_PRECISION_BF16_TRUE)
		r.precision = VF_PRECISION_BF16_MIXED;
	else if (zero && r.precision == VF_PRECISION_FP16_TRUE)
		r.precision = VF_PRECISION_FP16_MIXED;
	if (r.objective == VF_OBJ_UNSET)
		r.objective = VF_OBJ_SFT;
	if (r.phases == VF_PHASES_UNSET)
		r.phases = r.method == VF_METHOD_INFERENCE ? VF_PHASES_INFERENCE
							   : p->phases;
	if (r.optimizer_in_backward < 0)
		r.optimizer_in_backward = 0;
	if (r.activation_offload < 0)
		r.activation_offload = 0;
	if (r.packing < 0)
		r.packing = 0;
	if (r.compile < 0)
		r.compile = 0;
	if (method_has_adapters(r.method)) {
		if (r.lora.r == 0)
			r.lora.r = p->lora_r;
		if (r.lora.dropout < 0)
			r.lora.dropout = p->lora_dropout;
		if (r.lora.targets == 0)
			r.lora.targets = p->lora_targets;
		if (r.lora.alpha == 0)
			r.lora.alpha = 2.0 * r.lora.r;
		r.lora.targets = map_targets(model, r.lora.targets);
	}

	/* Checks: every message names the flag and what is wrong. */
	if (r.micro_batch > MAX_MICRO_BATCH)
		return vf_fail(err, VF_EINVAL,
			       "--batch %u: micro-batch must be 1..%u",
			       r.micro_batch, MAX_MICRO_BATCH);
	if (r.seq_len > MAX_SEQ_LEN)
		return vf_fail(err, VF_EINVAL,
			       "--seq %u: sequence length must be 1..%u", r.seq_len,
			       MAX_SEQ_LEN);
	if (r.grad_accum > MAX_GRAD_ACCUM)
		return vf_fail(err, VF_EINVAL,
			       "--grad-accum %u: must be 1..%u", r.grad_accum,
			       MAX_GRAD_ACCUM);
	if (r.n_gpus > MAX_GPUS)
		return vf_fail(err, VF_EINVAL, "--gpus %u: must be 1..%u",
			       r.n_gpus, MAX_GPUS);
	if (r.strategy == VF_STRATEGY_SINGLE && r.n_gpus > 1)
		return vf_fail(err, VF_EINVAL,
			       "--strategy single with %u GPUs (use ddp, fsdp or "
			       "zero1/2/3)",
			       r.n_gpus);
	if (r.ckpt_every > model->arch.num_layers)
		return vf_fail(err, VF_EINVAL,
			       "--ckpt-every %u: the model has %llu layers",
			       r.ckpt_every,
			       (unsigned long long)model->arch.num_layers);
	if (method_has_adapters(r.method)) {
		uint64_t lim = smallest_targeted_dim(model, r.lora.targets);
		if (lim == UINT64_MAX)
			return vf_fail(err, VF_EINVAL,
				       "--lora-targets: none of the targets "
				       "exists in %s",
				       model->name);
		if (r.lora.r > MAX_LORA_R || r.lora.r > lim)
			return vf_fail(err, VF_EINVAL,
				       "--lora-r %u: larger than the smallest "
				       "targeted layer dimension (%llu)",
				       r.lora.r, (unsigned long long)lim);
		if (!(r.lora.dropout >= 0 && r.lora.dropout < 1))
			return vf_fail(err, VF_EINVAL,
				       "--lora-dropout: must be in [0, 1)");
	}
	if (r.offload != VF_OFFLOAD_NONE &&
	    r.strategy != VF_STRATEGY_ZERO1 && r.strategy != VF_STRATEGY_ZERO2 &&
	    r.strategy != VF_STRATEGY_ZERO3 && r.strategy != VF_STRATEGY_FSDP)
		return vf_fail(err, VF_EINVAL,
			       "--offload %s needs DeepSpeed ZeRO or FSDP "
			       "(--strategy zero2, zero3 or fsdp)",
			       vf_offload_name(r.offload));
	if ((r.offload == VF_OFFLOAD_PARAMS ||
	     r.offload == VF_OFFLOAD_OPTIMIZER_PARAMS) &&
	    (r.strategy == VF_STRATEGY_ZERO1 || r.strategy == VF_STRATEGY_ZERO2))
		return vf_fail(err, VF_EINVAL,
			       "--offload params needs ZeRO-3 or FSDP");
	if (!isfinite(r.gpu_memory_gib) || r.gpu_memory_gib < 0)
		return vf_fail(err, VF_EINVAL, "GPU memory must be positive");
	*out = r;
	return VF_OK;
}
