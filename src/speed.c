/*
 * speed.c - time per optimizer step from the FLOPs and bytes of the step.
 * Every assumption is in docs/speed.md; the figures are estimates.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

/* [speed §1] Achievable fraction of dense bf16 peak for a transformer
 * step: MFU_MAX * t / (t + T_HALF), t = tokens per micro-batch. 0.5 is
 * the well-tuned large-batch figure (PaLM 46 %, Megatron-LM 2021 52 %);
 * half of it at 1024 tokens. */
#define MFU_MAX 0.5
#define T_HALF 1024.0
/* [speed §2] fraction of peak DRAM bandwidth elementwise kernels reach */
#define BW_EFFICIENCY 0.7
/* [speed §4] PCIe x16 payload bandwidth per generation, GB/s, and the
 * host Adam rate (DeepSpeed CPUAdam, bytes of fp32 state per second). */
static const double pcie_gbs[] = {[3] = 12.0, [4] = 25.0, [5] = 50.0};
#define HOST_ADAM_BYTES_PER_S 10e9
/* [speed §5] NVLink (A100/H100 SXM class) all-reduce bus bandwidth */
#define NVLINK_GBS 200.0
#define NOMINAL_TFLOPS 100.0
/* [speed §3] extra time of a quantized base relative to 16-bit */
#define QLORA_OVERHEAD 0.39
#define INT8_OVERHEAD 0.39

static double pcie(const vf_gpu_spec *g)
{
	unsigned gen = g && g->pcie_gen >= 3 && g->pcie_gen <= 5 ? g->pcie_gen : 4;
	return pcie_gbs[gen] * 1e9;
}

vf_status vf_speed_estimate(const vf_model *m, const vf_estimate *e,
			    const vf_gpu_spec *g, vf_speed *out, vf_error *err)
{
	const vf_run *r = &e->run;
	memset(out, 0, sizeof *out);
	if (!r->micro_batch || !r->seq_len)
		return vf_fail(err, VF_EINVAL, "speed: the run is not resolved");
	const vf_arch *a = &m->arch;
	bool full = r->method == VF_METHOD_FULL;
	bool trains = r->method != VF_METHOD_INFERENCE &&
		      r->method != VF_METHOD_FROZEN;

	/* [speed §1] forward FLOPs per token: 2 per active matmul weight
	 * (experts: top-k of them), the lm_head, and causal attention
	 * 2 * 2 * L * s * q / 2 (QK^T and PV, half of them masked). */
	double w = 0;
	for (unsigned i = 0; i < m->n_linears; i++) {
		const vf_linear *l = &m->linears[i];
		w += (double)l->in_features * (double)l->out_features *
		     (double)l->active_per_token * (double)l->layers;
	}
	w += (double)a->vocab_size * (double)a->hidden_size;
	double attn = 2.0 * (double)a->num_layers * (double)r->seq_len *
		      (double)(a->num_heads * a->head_dim);
	double fwd = 2.0 * w + attn;
	/* Backward: input gradients always (2x w), weight gradients only for
	 * trained weights (another 2x w); attention backward is 2x forward.
	 * Checkpointing recomputes one forward. */
	double bwd = trains ? (full ? 4.0 * w : 2.0 * w) + 2.0 * attn : 0;
	double recompute = trains && r->grad_ckpt != VF_CKPT_OFF ? fwd : 0;
	out->flops_per_token = fwd + bwd + recompute;

	double tokens = (double)r->micro_batch * (double)r->seq_len;
	double accum = r->grad_accum ? r->grad_accum : 1;
	double peak = g && g->bf16_tflops > 0 ? g->bf16_tflops : 0;
	if (peak <= 0 && g && g->fp32_tflops > 0)
		/* [speed §1] GeForce tensor cores with fp32 accumulate run at
		 * twice the CUDA-core fp32 rate (every row with both). */
		peak = 2 * g->fp32_tflops;
	out->peak_known = peak > 0;
	if (!out->peak_known)
		peak = NOMINAL_TFLOPS;
	out->mfu = MFU_MAX * tokens / (tokens + T_HALF);
	out->compute_seconds =
		out->flops_per_token * tokens * accum / (peak * 1e12 * out->mfu);

	double bw = (g && g->bandwidth_gbs > 0 ? g->bandwidth_gbs : 1000) *
		    1e9 * BW_EFFICIENCY;
	/* [speed §3] 4-bit bases are dequantized for every matmul of every
	 * pass; measured end to end, QLoRA (bitsandbytes NF4) took 39 % more
	 * time than LoRA on the same run (Raschka 2023, litgpt, A100). */
	if (r->quant != VF_QUANT_NONE && r->quant != VF_QUANT_INT8)
		out->dequant_seconds = QLORA_OVERHEAD * out->compute_seconds;
	else if (r->quant == VF_QUANT_INT8)
		/* LLM.int8 mixed-precision decomposition: slower still */
		out->dequant_seconds = INT8_OVERHEAD * out->compute_seconds;

	/* [speed §2] the optimizer step reads and writes params, grads and
	 * states: about 16 B per fp32-trained param with Adam, 4 B/param
	 * for 8-bit states. */
	double trained = (double)e->params_trainable;
	double n = r->n_gpus ? r->n_gpus : 1;
	bool sharded_opt = r->strategy == VF_STRATEGY_FSDP ||
			   r->strategy == VF_STRATEGY_ZERO1 ||
			   r->strategy == VF_STRATEGY_ZERO2 ||
			   r->strategy == VF_STRATEGY_ZERO3;
	double per_param = r->optimizer == VF_OPTIM_SGD ? 8 : 16;
	if (trains)
		out->optimizer_seconds =
			trained * per_param / (sharded_opt ? n : 1) / bw;
	/* [speed §4] optimizer offload: gradients down, params up over
	 * PCIe, Adam on the host. */
	if (trains && (r->offload == VF_OFFLOAD_OPTIMIZER ||
		       r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS)) {
		double part = trained / (sharded_opt ? n : 1);
		out->offload_seconds = part * 4 / pcie(g) +
				       part * 12 / HOST_ADAM_BYTES_PER_S;
		out->optimizer_seconds = 0;
	}
	if (r->offload == VF_OFFLOAD_PARAMS ||
	    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS)
		/* parameters streamed in for forward and backward */
		out->offload_seconds +=
			(double)m->params.total * 2 * 2 * accum / pcie(g);
	/* [speed §5] ring all-reduce of the gradients: 2 (n-1)/n of their
	 * bytes over the slowest link; ZeRO-3/FSDP also gather the weights
	 * for forward and backward. Not overlapped (conservative). */
	if (trains && n > 1) {
		double link = g && g->nvlink ? NVLINK_GBS * 1e9 : pcie(g);
		double grad_bytes = trained * 2;
		double bytes = 2 * (n - 1) / n * grad_bytes;
		if (r->strategy == VF_STRATEGY_FSDP ||
		    r->strategy == VF_STRATEGY_ZERO3)
			bytes += 2 * (n - 1) / n * (double)m->params.total * 2 * accum;
		out->comm_seconds = bytes / link;
	}
	out->step_seconds = out->compute_seconds + out->dequant_seconds +
			    out->optimizer_seconds + out->offload_seconds +
			    out->comm_seconds;
	if (!(out->step_seconds > 0) || !isfinite(out->step_seconds))
		return vf_fail(err, VF_EINVAL, "speed: no time for the step");
	out->steps_per_second = 1 / out->step_seconds;
	out->tokens_per_second = tokens * accum * n / out->step_seconds;
	out->samples_per_second =
		(double)r->micro_batch * accum * n / out->step_seconds;
	return VF_OK;
}
