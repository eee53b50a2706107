/*
 * test_gpu_real.c - detection on a real NVIDIA driver. Skipped (cmocka
 * skip) where libnvidia-ml.so.1 cannot be opened, which is every CPU-only
 * machine; on a GPU machine it checks what the fake cannot: that the real
 * driver accepts our struct versions and layouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vramfit.h"

static vf_gpu_list list;

static void test_real_driver(void **state)
{
	(void)state;
	unsetenv("VRAMFIT_NVML_LIBRARY");
	vf_error err = {0};
	vf_status st = vf_gpus_detect(&list, &err);
	if (st == VF_ENODEV) {
		print_message("no NVIDIA driver here: %s\n", err.message);
		skip();
	}
	assert_int_equal(st, VF_OK);
	if (list.n_gpus == 0)
		skip();
	for (unsigned i = 0; i < list.n_gpus; i++) {
		const vf_gpu_info *g = &list.gpus[i];
		assert_true(g->memory_total_bytes > (1ull << 30));
		assert_true(g->memory_used_bytes <= g->memory_total_bytes);
		assert_true(g->memory_free_bytes <= g->memory_total_bytes);
		assert_true(VF_GPU_HAS(g, VF_GPU_UUID));
		assert_memory_equal(g->uuid, "GPU-", 4);
		/* drivers >= 510 take the v2 struct: the version is right */
		if (atoi(list.driver_version) >= 510)
			assert_true(VF_GPU_HAS(g, VF_GPU_MEMORY_RESERVED));
		assert_true(VF_GPU_HAS(g, VF_GPU_COMPUTE_CAP));
		assert_true(g->cc_major >= 3);
	}
	/* the same total as nvidia-smi, in its MiB */
	FILE *p = popen("nvidia-smi --query-gpu=memory.total "
			"--format=csv,noheader,nounits -i 0 2>/dev/null", "r");
	unsigned long long mib;
	if (p && !getenv("CUDA_VISIBLE_DEVICES") && fscanf(p, "%llu", &mib) == 1)
		assert_true(mib == list.gpus[0].memory_total_bytes >> 20);
	if (p)
		pclose(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_driver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
