/*
 * test_plan.c - the planner on the scenarios people bring (issue 4, §8):
 * the plan fits by the model (re-estimated here), keeps the effective
 * batch, and no configuration of the space, enumerated independently
 * here, that fits is faster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vramfit.h"

#define MiB (1024ull * 1024ull)

static vf_model model(const char *name)
{
	vf_model m;
	vf_error err;
	if (vf_builtin_model(&m, name, &err))
		fail_msg("%s", err.message);
	return m;
}

static vf_gpu_spec gpu(const char *name)
{
	vf_gpu_spec g;
	vf_error err;
	if (vf_gpu_spec_find(name, &g, &err))
		fail_msg("%s", err.message);
	return g;
}

/* Runs the planner; checks fit, batch and optimality; returns the plan. */
static vf_plan *plan_and_check(const vf_model *m, vf_plan_request *req)
{
	vf_plan *p = malloc(sizeof *p);
	vf_error err;
	assert_non_null(p);
	if (vf_plan_search(m, req, p, &err))
		fail_msg("%s", err.message);
	assert_true(p->found);
	const vf_run *c = &p->chosen.est.run;
	uint32_t gpus = c->n_gpus ? c->n_gpus : 1;
	assert_int_equal(c->micro_batch * c->grad_accum * gpus, req->effective_batch);

	/* expressible in the framework's config: HF, TRL, axolotl and
	 * litgpt checkpoint every layer or none */
	if (c->framework != VF_FW_TORCHTUNE && c->framework != VF_FW_TORCHTITAN)
		assert_true(c->ckpt_every <= 1);

	/* fits by the model: estimate the chosen run afresh */
	vf_estimate e;
	assert_int_equal(vf_estimate_run(m, c, &e, &err), VF_OK);
	assert_true(e.peak_process <= req->budget_bytes);
	assert_int_equal(e.peak_process, p->chosen.est.peak_process);

	/* the fastest that fits: every method, precision, optimizer,
	 * checkpointing and micro-batch of the space at the chosen length */
	const vf_method methods[] = {VF_METHOD_FULL, VF_METHOD_LORA, VF_METHOD_QLORA};
	const vf_precision precs[] = {VF_PRECISION_BF16_MIXED, VF_PRECISION_BF16_TRUE};
	const vf_optimizer opts[] = {VF_OPTIM_ADAMW, VF_OPTIM_ADAMW_8BIT,
				     VF_OPTIM_PAGED_ADAMW_8BIT};
	/* HF-based configs checkpoint every layer or none */
	const uint32_t every[] = {0, 1};
	uint32_t per_gpu = req->effective_batch / gpus;
	for (size_t mi = 0; mi < 3; mi++) {
		if (req->base.method && methods[mi] != req->base.method)
			continue;
		for (size_t pi = 0; pi < 2; pi++)
		for (size_t oi = 0; oi < 3; oi++)
		for (size_t ci = 0; ci < 2; ci++)
		for (uint32_t mb = 1; mb <= per_gpu; mb++) {
			if (per_gpu % mb)
				continue;
			vf_run r = req->base;
			r.method = methods[mi];
			if (r.method == VF_METHOD_FULL)
				r.precision = req->base.precision ? req->base.precision
								  : precs[pi];
			else if (pi)
				continue;
			if (r.method == VF_METHOD_QLORA && r.quant == VF_QUANT_NONE)
				r.quant = VF_QUANT_NF4_DQ;
			if (r.method != VF_METHOD_FULL && !r.lora.r)
				r.lora.r = 16;
			if (!req->base.optimizer)
				r.optimizer = opts[oi];
			else if (oi)
				continue;
			r.grad_ckpt = every[ci] ? VF_CKPT_ON : VF_CKPT_OFF;
			r.ckpt_every = every[ci];
			r.micro_batch = mb;
			r.grad_accum = per_gpu / mb;
			r.seq_len = c->seq_len;
			if (r.objective == VF_OBJ_PRETRAIN && r.method != VF_METHOD_FULL)
				continue;
			if (req->no_quant && r.method == VF_METHOD_QLORA)
				continue;
			if (vf_estimate_run(m, &r, &e, &err) ||
			    e.peak_process > req->budget_bytes)
				continue;
			vf_speed sp;
			assert_int_equal(vf_speed_estimate(m, &e, req->gpu, &sp, &err), VF_OK);
			/* within the planner's 3 % tie, quality may win */
			if (sp.tokens_per_second > p->chosen.speed.tokens_per_second * 1.03)
				fail_msg("a faster fitting configuration: %s mb %u ckpt %u "
					 "%s: %.1f > %.1f tokens/s",
					 vf_method_name(r.method), mb, every[ci],
					 vf_optimizer_name(r.optimizer),
					 sp.tokens_per_second,
					 p->chosen.speed.tokens_per_second);
		}
	}
	return p;
}

static vf_plan_request request(const vf_gpu_spec *g, uint32_t eb, uint32_t seq)
{
	vf_plan_request req;
	memset(&req, 0, sizeof req);
	vf_run_init(&req.base);
	req.effective_batch = eb;
	req.max_seq = seq;
	req.min_seq = seq / 4;
	req.budget_bytes = g->memory_bytes - 1024 * MiB;
	req.gpu = g;
	return req;
}

/* Llama-2-7B QLoRA r16 on an RTX 4050 Laptop (6 GB), batch 16, <= 2048. */
static void qlora_on_a_6gb_laptop(void **state)
{
	(void)state;
	vf_model m = model("meta-llama/Llama-2-7b-hf");
	vf_gpu_spec g = gpu("rtx4050-laptop");
	vf_plan_request req = request(&g, 16, 2048);
	req.base.method = VF_METHOD_QLORA;
	req.base.lora.r = 16;
	vf_plan *p = plan_and_check(&m, &req);
	assert_int_equal(p->chosen.est.run.quant, VF_QUANT_NF4_DQ);
	assert_true(p->chosen.est.run.grad_ckpt == VF_CKPT_ON);
	assert_true(p->evaluated > 10);
	free(p);
}

/* A 7B model, continued pretraining: RTX 4090 Laptop (16 GB) vs desktop. */
static void cpt_7b_laptop_vs_desktop(void **state)
{
	(void)state;
	vf_model m = model("mistralai/Mistral-7B-v0.1");
	vf_gpu_spec lap = gpu("rtx4090-laptop"), desk = gpu("rtx-4090");
	vf_plan_request req = request(&lap, 16, 2048);
	req.base.objective = VF_OBJ_CPT;
	vf_plan *pl = plan_and_check(&m, &req);
	req = request(&desk, 16, 2048);
	req.base.objective = VF_OBJ_CPT;
	vf_plan *pd = plan_and_check(&m, &req);
	/* the desktop card is faster and has more room */
	assert_true(pd->chosen.speed.tokens_per_second >
		    pl->chosen.speed.tokens_per_second);
	free(pl);
	free(pd);
}

/* A 1B model by its dimensions, pretraining in bf16 with AdamW, RTX 5090,
 * effective batch 64. */
static void pretrain_1b_on_5090(void **state)
{
	(void)state;
	vf_arch a;
	memset(&a, 0, sizeof a);
	a.hidden_size = 2048;
	a.intermediate_size = 8192;
	a.num_layers = 20;
	a.num_heads = 32;
	a.num_kv_heads = 32;
	a.head_dim = 64;
	a.vocab_size = 50000;
	a.mlp = VF_MLP_GATED;
	a.norm = VF_NORM_RMS;
	vf_model m;
	vf_error err;
	assert_int_equal(vf_model_init(&m, "custom-1b", &a, &err), VF_OK);
	vf_gpu_spec g = gpu("rtx5090");
	vf_plan_request req = request(&g, 64, 2048);
	req.base.objective = VF_OBJ_PRETRAIN;
	req.base.optimizer = VF_OPTIM_ADAMW;
	vf_plan *p = plan_and_check(&m, &req);
	assert_int_equal(p->chosen.est.run.method, VF_METHOD_FULL);
	assert_int_equal(p->chosen.est.run.optimizer, VF_OPTIM_ADAMW);
	free(p);
}

/* 3B, 7B and 13B, KTO with 4-bit LoRA r64 on an RTX 3090, batch 32. */
static void kto_qlora_on_3090(void **state)
{
	(void)state;
	const char *names[] = {"meta-llama/Llama-3.2-3B", "meta-llama/Llama-2-7b-hf",
			       "meta-llama/Llama-2-13b-hf"};
	vf_gpu_spec g = gpu("rtx3090");
	for (size_t i = 0; i < 3; i++) {
		vf_model m = model(names[i]);
		vf_plan_request req = request(&g, 32, 2048);
		req.base.objective = VF_OBJ_KTO;
		req.base.method = VF_METHOD_QLORA;
		req.base.lora.r = 64;
		vf_plan *p = plan_and_check(&m, &req);
		assert_int_equal(p->chosen.est.run.lora.r, 64);
		free(p);
	}
}

/* Two GPUs, an RTX 3090 (24 GB) and an RTX 3080 (10 GB): the 3080 binds. */
static void mixed_two_gpu_box(void **state)
{
	(void)state;
	vf_model m = model("meta-llama/Llama-3.2-3B");
	vf_gpu_spec small = gpu("rtx3080-10gb");
	vf_plan_request req = request(&small, 16, 2048);
	req.base.n_gpus = 2;
	req.base.method = VF_METHOD_LORA;
	vf_plan *p = plan_and_check(&m, &req);
	assert_int_equal(p->chosen.est.run.n_gpus, 2);
	assert_true(p->chosen.est.peak_process <= 10240 * MiB - 1024 * MiB);
	free(p);
}

/* Full fine-tuning of a 7B on one 24 GB card only fits with DeepSpeed
 * offload: with host RAM it is found (ZeRO-Offload or ZeRO-Infinity), the
 * host holds what the plan says, and without host RAM nothing fits. */
static void full_7b_with_offload(void **state)
{
	(void)state;
	vf_model m = model("meta-llama/Llama-2-7b-hf");
	vf_gpu_spec g = gpu("rtx4090");
	vf_plan_request req = request(&g, 16, 2048);
	req.base.method = VF_METHOD_FULL;
	vf_plan *p = malloc(sizeof *p);
	vf_error err;
	assert_int_equal(vf_plan_search(&m, &req, p, &err), VF_OK);
	assert_false(p->found);
	req.host_ram_bytes = 256ull * 1024 * MiB;
	assert_int_equal(vf_plan_search(&m, &req, p, &err), VF_OK);
	assert_true(p->found);
	const vf_run *c = &p->chosen.est.run;
	assert_int_not_equal(c->offload, VF_OFFLOAD_NONE);
	assert_true(c->strategy == VF_STRATEGY_ZERO2 ||
		    c->strategy == VF_STRATEGY_ZERO3);
	vf_estimate e;
	assert_int_equal(vf_estimate_run(&m, c, &e, &err), VF_OK);
	assert_true(e.peak_process <= req.budget_bytes);
	assert_true(e.host_bytes <= req.host_ram_bytes);
	/* DeepSpeed's CPU Adam: fp32 master, grads and both states, 16
	 * bytes per parameter on the host */
	assert_int_equal(c->optimizer, VF_OPTIM_ADAMW);
	assert_true(e.host_bytes >= m.params.total * 16);
	/* too little host RAM for that: nothing fits again */
	req.host_ram_bytes = 64ull * 1024 * MiB;
	assert_int_equal(vf_plan_search(&m, &req, p, &err), VF_OK);
	assert_false(p->found);
	free(p);
}

static void nothing_fits_and_bad_requests(void **state)
{
	(void)state;
	vf_model m = model("meta-llama/Llama-2-70b-hf");
	vf_gpu_spec g = gpu("rtx4050-laptop");
	vf_plan_request req = request(&g, 16, 4096);
	req.base.method = VF_METHOD_FULL;
	vf_plan *p = malloc(sizeof *p);
	vf_error err;
	assert_int_equal(vf_plan_search(&m, &req, p, &err), VF_OK);
	assert_false(p->found);
	assert_false(p->chosen.fits);
	/* the closest is the smallest peak of the space: no configuration
	 * the search covers, e.g. batch 1 at the shortest length with every
	 * layer checkpointed and a paged 8-bit optimizer, is smaller */
	vf_run small = req.base;
	small.precision = VF_PRECISION_BF16_TRUE;
	small.optimizer = VF_OPTIM_PAGED_ADAMW_8BIT;
	small.grad_ckpt = VF_CKPT_ON;
	small.micro_batch = 1;
	small.grad_accum = 16;
	small.seq_len = req.min_seq;
	vf_estimate e;
	assert_int_equal(vf_estimate_run(&m, &small, &e, &err), VF_OK);
	assert_true(p->chosen.est.peak_process <= e.peak_process);
	assert_int_equal(p->chosen.est.run.seq_len, req.min_seq);
	req.effective_batch = 0;
	assert_int_equal(vf_plan_search(&m, &req, p, &err), VF_EINVAL);
	req.effective_batch = 16;
	req.min_seq = 8192;
	assert_int_equal(vf_plan_search(&m, &req, p, &err), VF_EINVAL);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qlora_on_a_6gb_laptop),
		cmocka_unit_test(cpt_7b_laptop_vs_desktop),
		cmocka_unit_test(pretrain_1b_on_5090),
		cmocka_unit_test(kto_qlora_on_3090),
		cmocka_unit_test(mixed_two_gpu_box),
		cmocka_unit_test(full_7b_with_offload),
		cmocka_unit_test(nothing_fits_and_bad_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
