/*
 * test_estimate.c - each component of the estimate against a hand
 * calculation from the formulas of docs/memory-model.md, written out here
 * with the published dimensions of the model, not with the library's
 * helpers; plus the properties any estimate must have (monotone in batch
 * and sequence, levels ordered, sharding divides, no overflow).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vramfit.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

/* Llama-2-7b-hf, from its config.json */
enum { H = 4096, I = 11008, V = 32000, L = 32 };
static const uint64_t P7B = 6738415616ull;

static vf_model llama7b(void)
{
	vf_model m;
	vf_error err;
	assert_int_equal(vf_builtin_model(&m, "meta-llama/Llama-2-7b-hf", &err), VF_OK);
	return m;
}

static uint64_t term(const vf_estimate *e, const char *label)
{
	for (unsigned i = 0; i < e->n_terms; i++)
		if (strcmp(e->terms[i].label, label) == 0)
			return e->terms[i].bytes;
	fail_msg("no term \"%s\"", label);
	return 0;
}

static vf_estimate estimate(const vf_model *m, const vf_run *r)
{
	vf_estimate e;
	vf_error err;
	if (vf_estimate_run(m, r, &e, &err) != VF_OK)
		fail_msg("%s", err.message);
	return e;
}

static vf_run qlora_run(vf_quant q)
{
	vf_run r;
	vf_run_init(&r);
	r.method = VF_METHOD_QLORA;
	r.quant = q;
	r.lora.r = 16;
	r.micro_batch = 1;
	r.seq_len = 2048;
	r.grad_ckpt = VF_CKPT_ON;
	r.optimizer = VF_OPTIM_PAGED_ADAMW_8BIT;
	return r;
}

/* 4-bit linears: 4 attention matrices h*h and 3 MLP matrices h*I per
 * layer; everything else (embeddings, lm_head, norms) in bf16. */
static uint64_t nf4_bytes(bool double_quant)
{
	const uint64_t mats[2][2] = {{(uint64_t)H * H, 4}, {(uint64_t)H * I, 3}};
	uint64_t bytes = 0, qparams = 0;
	for (int i = 0; i < 2; i++) {
		uint64_t n = mats[i][0], blocks = (n + 63) / 64;
		uint64_t one = n / 2 + (double_quant
			? blocks + 4 * ((blocks + 255) / 256) /* 8-bit absmax + fp32 per 256 */
			: 4 * blocks);                        /* fp32 absmax per 64 */
		bytes += one * mats[i][1] * L;
		qparams += n * mats[i][1] * L;
	}
	return bytes + (P7B - qparams) * 2;
}

static void weights_by_dtype(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_run r;
	vf_run_init(&r);
	r.method = VF_METHOD_FULL;
	r.precision = VF_PRECISION_BF16_TRUE;
	vf_estimate e = estimate(&m, &r);
	assert_int_equal(term(&e, "base weights"), P7B * 2);
	r.precision = VF_PRECISION_FP32;
	e = estimate(&m, &r);
	assert_int_equal(term(&e, "base weights"), P7B * 4);

	vf_run q = qlora_run(VF_QUANT_NF4);
	e = estimate(&m, &q);
	assert_int_equal(term(&e, "base weights"), nf4_bytes(false));
	q = qlora_run(VF_QUANT_NF4_DQ);
	e = estimate(&m, &q);
	assert_int_equal(term(&e, "base weights"), nf4_bytes(true));
	/* the well-known ~3.6-3.9 GB of a 4-bit 7B model */
	assert_true(nf4_bytes(true) > 3500 * MiB && nf4_bytes(true) < 3800 * MiB);
}

static void adapters_gradients_states(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_run r = qlora_run(VF_QUANT_NF4_DQ);
	vf_estimate e = estimate(&m, &r);
	/* LoRA r=16 on q and v: A (16 x 4096) + B (4096 x 16) each, 32 layers */
	uint64_t lora = 32ull * 2 * 16 * (H + H);
	assert_int_equal(lora, 8388608); /* PEFT prints "trainable params: 8,388,608" */
	assert_int_equal(e.params_trainable, lora);
	assert_int_equal(term(&e, "adapter parameters"), lora * 4); /* fp32 */
	assert_int_equal(term(&e, "gradients"), lora * 4);
	/* paged 8-bit AdamW: every A/B tensor has 65,536 elements: >= 4096,
	 * so 8-bit (two bytes of state per element + two fp32 absmax per 256
	 * block), < 1e5, so not paged */
	uint64_t per_tensor = 2 * 65536 + 8 * (65536 / 256);
	assert_int_equal(term(&e, "optimizer states"), 128 * per_tensor);

	/* full fine-tuning, bf16-true AdamW: exp_avg and exp_avg_sq in bf16 */
	vf_run f;
	vf_run_init(&f);
	f.method = VF_METHOD_FULL;
	f.precision = VF_PRECISION_BF16_TRUE;
	f.optimizer = VF_OPTIM_ADAMW;
	e = estimate(&m, &f);
	assert_int_equal(term(&e, "gradients"), P7B * 2);
	assert_int_equal(term(&e, "optimizer states"), P7B * 2 * 2);
	/* bf16-mixed: fp32 master params, so fp32 grads and states */
	f.precision = VF_PRECISION_BF16_MIXED;
	e = estimate(&m, &f);
	assert_int_equal(term(&e, "base weights"), P7B * 4);
	assert_int_equal(term(&e, "optimizer states"), P7B * 4 * 2);
	/* SGD keeps nothing */
	f.optimizer = VF_OPTIM_SGD;
	e = estimate(&m, &f);
	assert_int_equal(term(&e, "optimizer states"), 0);
}

static void zero3_shards(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_run f;
	vf_run_init(&f);
	f.method = VF_METHOD_FULL;
	f.precision = VF_PRECISION_BF16_MIXED;
	f.optimizer = VF_OPTIM_ADAMW;
	f.n_gpus = 8;
	f.strategy = VF_STRATEGY_ZERO3;
	vf_estimate e = estimate(&m, &f);
	/* ZeRO-3 mixed precision: 2 + 2 + 12 bytes per parameter, all / 8
	 * (Rajbhandari et al. 2020, K = 12), plus the fp32 gradient
	 * partition at the step */
	assert_int_equal(term(&e, "base weights"), P7B * 2 / 8);
	assert_int_equal(term(&e, "gradients"), P7B * 2 / 8);
	assert_int_equal(term(&e, "optimizer states"), P7B * 8 / 8);
	assert_int_equal(term(&e, "fp32 master + grad partitions"), P7B * 8 / 8);
	/* NCCL is outside the allocator: in the process level only */
	assert_int_equal(e.component[VF_COMP_NON_TORCH], 600 * MiB);
}

/* ZeRO-Offload: Adam states and the fp32 master/grad partitions move to
 * the host, and DeepSpeedCPUAdam steps there, so the GPU also loses the
 * foreach temporary (one fp32 tensor the size of the states' shard) and
 * its bf16 gradient partition (DeepSpeed's estimator: 2 bytes per param
 * on the GPU, the 16-bit weights). */
static void offloaded_optimizer_leaves_the_gpu(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_run f;
	vf_run_init(&f);
	f.method = VF_METHOD_FULL;
	f.precision = VF_PRECISION_BF16_MIXED;
	f.optimizer = VF_OPTIM_ADAMW;
	f.n_gpus = 8;
	f.strategy = VF_STRATEGY_ZERO2;
	vf_estimate on_gpu = estimate(&m, &f);
	f.offload = VF_OFFLOAD_OPTIMIZER;
	vf_estimate off = estimate(&m, &f);
	const uint64_t states = P7B * 8 / 8, master = P7B * 8 / 8,
		       foreach_tmp = P7B * 4 / 8, grads = P7B * 2 / 8;
	/* the host holds every rank's partition: 16 bytes per parameter */
	assert_int_equal(off.host_bytes, (states + master) * 8);
	assert_int_equal(off.host_bytes, P7B * 16);
	assert_int_equal(on_gpu.phase_allocated[VF_PHASE_OPTIMIZER] -
				 off.phase_allocated[VF_PHASE_OPTIMIZER],
			 states + master + foreach_tmp + grads);
	assert_int_equal(term(&off, "base weights"), P7B * 2);
	/* offload without a ZeRO stage named is ZeRO-Offload, stage 2 */
	f.strategy = VF_STRATEGY_UNSET;
	f.n_gpus = 1;
	assert_int_equal(estimate(&m, &f).run.strategy, VF_STRATEGY_ZERO2);
	f.offload = VF_OFFLOAD_OPTIMIZER_PARAMS;
	assert_int_equal(estimate(&m, &f).run.strategy, VF_STRATEGY_ZERO3);
}

static void activations_logits_overheads(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_run r = qlora_run(VF_QUANT_NF4_DQ);
	vf_estimate e = estimate(&m, &r);
	/* checkpointing keeps each layer's input; the kbit fp32 cast of the
	 * norms makes the residual stream fp32 */
	assert_int_equal(term(&e, "checkpointed layer inputs"), 32ull * 2048 * H * 4);
	/* cuBLAS: 2 x (4096 KiB * 2 + 16 KiB * 8) off Hopper, 2 x 32 MiB on it */
	assert_int_equal(term(&e, "cuBLAS workspaces"), 2ull * (8 * MiB + 128 * 1024));
	assert_int_equal(term(&e, "CUDA context"), 500 * MiB);
	vf_run h = r;
	strcpy(h.gpu_name, "h100-sxm");
	e = estimate(&m, &h);
	assert_int_equal(term(&e, "cuBLAS workspaces"), 64 * MiB);

	/* logits: HF upcasts to fp32 (T*V*(2 + 4)) and the AMP wrapper keeps
	 * another fp32 copy (+4) at the end of forward; inference: logits in
	 * bf16 plus their fp32 upcast */
	vf_run inf;
	vf_run_init(&inf);
	inf.method = VF_METHOD_INFERENCE;
	inf.precision = VF_PRECISION_BF16_TRUE;
	inf.micro_batch = 1;
	inf.seq_len = 1024;
	e = estimate(&m, &inf);
	uint64_t kv = 2ull * L * H * 1024 * 2;
	uint64_t logits = 1024ull * V * (2 + 4);
	assert_int_equal(term(&e, "KV cache and logits"), kv + logits);
}

static void levels_and_monotone(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_run r = qlora_run(VF_QUANT_NF4);
	uint64_t last = 0;
	for (uint32_t b = 1; b <= 16; b *= 2) {
		r.micro_batch = b;
		vf_estimate e = estimate(&m, &r);
		assert_true(e.peak_allocated <= e.peak_reserved);
		assert_true(e.peak_reserved + 500 * MiB <= e.peak_process);
		assert_true(e.peak_process > last);
		last = e.peak_process;
	}
	r.micro_batch = 1;
	last = 0;
	for (uint32_t s = 256; s <= 32768; s *= 2) {
		r.seq_len = s;
		vf_estimate e = estimate(&m, &r);
		assert_true(e.peak_process > last);
		last = e.peak_process;
	}
	/* gradient checkpointing saves memory on the same run */
	r.seq_len = 4096;
	vf_estimate with = estimate(&m, &r);
	r.grad_ckpt = VF_CKPT_OFF;
	vf_estimate without = estimate(&m, &r);
	assert_true(with.peak_allocated < without.peak_allocated);
}

static void huge_runs_do_not_wrap(void **state)
{
	(void)state;
	vf_model m;
	vf_error err;
	assert_int_equal(vf_builtin_model(&m, "meta-llama/Llama-2-70b-hf", &err), VF_OK);
	vf_run r;
	vf_run_init(&r);
	r.method = VF_METHOD_FULL;
	r.precision = VF_PRECISION_FP32;
	r.micro_batch = 4096;
	r.seq_len = 524288;
	r.phases = VF_PHASES_TRAIN_GENERATE;
	r.attention = VF_ATTN_EAGER;
	vf_estimate e;
	vf_status st = vf_estimate_run(&m, &r, &e, &err);
	/* either a refusal that says why, or a real number: never a wrap */
	if (st == VF_OK)
		assert_true(e.peak_process >= e.peak_allocated &&
			    e.peak_allocated > 1000 * GiB);
	else
		assert_int_equal(st, VF_EOVERFLOW);
	/* out-of-range knobs are refused by resolve, with the knob named */
	r.micro_batch = 5000;
	assert_int_equal(vf_estimate_run(&m, &r, &e, &err), VF_EINVAL);
	assert_non_null(strstr(err.message, "micro"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(weights_by_dtype),
		cmocka_unit_test(adapters_gradients_states),
		cmocka_unit_test(zero3_shards),
		cmocka_unit_test(offloaded_optimizer_leaves_the_gpu),
		cmocka_unit_test(activations_logits_overheads),
		cmocka_unit_test(levels_and_monotone),
		cmocka_unit_test(huge_runs_do_not_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
