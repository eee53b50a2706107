/*
 * bench.c - how many memory estimates libvramfit makes per second on one
 * core. This is a benchmark, not a test: it prints numbers, it asserts
 * nothing. docs/benchmark.md records its results and the command.
 *
 *   make bench            (or: build/vf_bench [seconds-per-case])
 *
 * Each case estimates the same run over and over with the micro-batch
 * varying, so the estimator cannot be served from a cache and the
 * compiler cannot hoist the call out of the loop.
 */
#define _POSIX_C_SOURCE 200809L
#include "vramfit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct bench_case {
	const char *label;
	const char *model;
	vf_method method;
	vf_quant quant;
	vf_optimizer optimizer;
	uint32_t seq_len;
	uint32_t n_gpus;
	vf_strategy strategy;
} bench_case;

static const bench_case CASES[] = {
	{"Llama-2-7B QLoRA r16, 2048 tok", "meta-llama/Llama-2-7b-hf",
	 VF_METHOD_QLORA, VF_QUANT_NF4_DQ, VF_OPTIM_PAGED_ADAMW_8BIT, 2048, 1,
	 VF_STRATEGY_UNSET},
	{"Llama-3.1-8B full, 4096 tok", "meta-llama/Llama-3.1-8B",
	 VF_METHOD_FULL, VF_QUANT_NONE, VF_OPTIM_ADAMW, 4096, 1,
	 VF_STRATEGY_UNSET},
	{"Mixtral-8x7B LoRA, ZeRO-3 x8", "mistralai/Mixtral-8x7B-v0.1",
	 VF_METHOD_LORA, VF_QUANT_NONE, VF_OPTIM_ADAMW, 4096, 8,
	 VF_STRATEGY_ZERO3},
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_case(const bench_case *c, double seconds)
{
	vf_model model;
	vf_error err;
	if (vf_builtin_model(&model, c->model, &err) != VF_OK) {
		fprintf(stderr, "vf_bench: %s\n", err.message);
		return 1;
	}
	vf_run run;
	vf_run_init(&run);
	run.method = c->method;
	run.quant = c->quant;
	run.optimizer = c->optimizer;
	run.seq_len = c->seq_len;
	run.n_gpus = c->n_gpus;
	run.strategy = c->strategy;
	run.grad_accum = 16;

	vf_estimate est;
	uint64_t checksum = 0, n = 0;
	double start = now_seconds(), elapsed;
	do {
		/* 1024 estimates between clock reads keeps timing overhead out. */
		for (unsigned i = 0; i < 1024; i++, n++) {
			run.micro_batch = 1 + (uint32_t)(n & 7);
			if (vf_estimate_run(&model, &run, &est, &err) != VF_OK) {
				fprintf(stderr, "vf_bench: %s\n", err.message);
				return 1;
			}
			checksum += est.peak_process;
		}
		elapsed = now_seconds() - start;
	} while (elapsed < seconds);

	printf("%-34s %12.0f estimates/s  %7.3f us each  (checksum %llx)\n",
	       c->label, (double)n / elapsed, elapsed / (double)n * 1e6,
	       (unsigned long long)(checksum & 0xffff));
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	if (!(seconds > 0 && seconds < 3600)) {
		fprintf(stderr, "usage: vf_bench [seconds-per-case]\n");
		return 2;
	}
	printf("vramfit %s, one thread, %.1f s per case\n", vf_version(),
	       seconds);
	for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
		if (run_case(&CASES[i], seconds) != 0)
			return 1;
	return 0;
}
