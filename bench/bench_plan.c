/*
 * bench_plan.c - how long the planner's whole default search takes on one
 * core, for the scenarios of docs/plan.md. A benchmark: it prints, it
 * asserts nothing. `make bench` runs it; docs/benchmark.md keeps results.
 */
#define _POSIX_C_SOURCE 200809L
#include "vramfit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct plan_case {
	const char *label, *model, *gpu;
	vf_method method;
	vf_objective objective;
	uint32_t lora_r, effective_batch, gpus;
} plan_case;

static const plan_case CASES[] = {
	{"Llama-2-7B QLoRA r16, RTX 4050 Laptop", "meta-llama/Llama-2-7b-hf",
	 "rtx4050-laptop", VF_METHOD_QLORA, VF_OBJ_SFT, 16, 16, 1},
	{"Mistral-7B CPT, any method, RTX 4090", "mistralai/Mistral-7B-v0.1",
	 "rtx4090", VF_METHOD_UNSET, VF_OBJ_CPT, 0, 16, 1},
	{"Llama-3.1-8B any method, 8x H100 SXM", "meta-llama/Llama-3.1-8B",
	 "h100-sxm", VF_METHOD_UNSET, VF_OBJ_SFT, 0, 64, 8},
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
	vf_plan *p = malloc(sizeof *p);
	if (!p)
		return 1;
	printf("vramfit %s, one thread\n", vf_version());
	for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
		const plan_case *c = &CASES[i];
		vf_model m;
		vf_gpu_spec g;
		vf_error err;
		if (vf_builtin_model(&m, c->model, &err) ||
		    vf_gpu_spec_find(c->gpu, &g, &err)) {
			fprintf(stderr, "bench_plan: %s\n", err.message);
			return 1;
		}
		vf_plan_request req;
		memset(&req, 0, sizeof req);
		vf_run_init(&req.base);
		req.base.method = c->method;
		req.base.objective = c->objective;
		req.base.lora.r = c->lora_r;
		req.base.n_gpus = c->gpus;
		req.effective_batch = c->effective_batch;
		req.max_seq = 2048;
		req.min_seq = 512;
		req.budget_bytes = g.memory_bytes - (1024ull << 20);
		req.gpu = &g;
		unsigned runs = 0;
		double start = now(), elapsed;
		do {
			if (vf_plan_search(&m, &req, p, &err)) {
				fprintf(stderr, "bench_plan: %s\n", err.message);
				return 1;
			}
			runs++;
			elapsed = now() - start;
		} while (elapsed < 0.5);
		printf("%-40s %8.3f ms per plan, %5llu configurations evaluated "
		       "(%llu pruned)\n",
		       c->label, elapsed / runs * 1e3,
		       (unsigned long long)p->evaluated,
		       (unsigned long long)p->pruned);
	}
	free(p);

	/* `vramfit check` on a config that does not fit a 6 GB laptop: the
	 * lever checklist and the search over the tiers of levers. */
	vf_check *chk = malloc(sizeof *chk);
	vf_model m;
	vf_gpu_spec g;
	vf_error err;
	if (!chk || vf_builtin_model(&m, "meta-llama/Llama-2-7b-hf", &err) ||
	    vf_gpu_spec_find("rtx4050-laptop", &g, &err))
		return 1;
	vf_run r;
	vf_run_init(&r);
	r.method = VF_METHOD_LORA;
	r.lora.r = 64;
	r.micro_batch = 8;
	r.grad_accum = 2;
	r.seq_len = 2048;
	unsigned runs = 0;
	double start = now(), elapsed;
	do {
		if (vf_check_run(&m, &r, g.memory_bytes - (1024ull << 20), &g,
				 chk, &err)) {
			fprintf(stderr, "bench_plan: %s\n", err.message);
			return 1;
		}
		runs++;
		elapsed = now() - start;
	} while (elapsed < 0.5);
	printf("%-40s %8.3f ms per check, %5llu configurations evaluated\n",
	       "check: Llama-2-7B LoRA r64 b8, 6 GB", elapsed / runs * 1e3,
	       (unsigned long long)chk->evaluated);
	free(chk);
	return 0;
}
