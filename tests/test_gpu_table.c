/*
 * test_gpu_table.c - the embedded GPU table: every row parses, figures
 * match data/gpus/gpus.csv, and names are found the way people and the
 * driver write them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vramfit.h"

static vf_gpu_spec find(const char *name)
{
	vf_gpu_spec g;
	vf_error err;
	if (vf_gpu_spec_find(name, &g, &err) != VF_OK)
		fail_msg("%s: %s", name, err.message);
	return g;
}

static void rows_parse(void **state)
{
	(void)state;
	size_t n = vf_gpu_spec_count();
	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		vf_gpu_spec g;
		vf_error err;
		assert_int_equal(vf_gpu_spec_at(i, &g, &err), VF_OK);
		assert_true(g.id[0] && g.name[0]);
		assert_true(g.memory_bytes >= 4ull << 30);
	}
	vf_gpu_spec g;
	vf_error err;
	assert_int_equal(vf_gpu_spec_at(n, &g, &err), VF_EINVAL);
}

static void figures(void **state)
{
	(void)state;
	/* the rows of data/gpus/gpus.csv */
	vf_gpu_spec g = find("rtx-4050-laptop");
	assert_int_equal(g.memory_bytes, 6141ull << 20);
	assert_true(g.laptop && g.bf16);
	assert_true(g.bf16_tflops > 22.7 && g.bf16_tflops < 22.8);
	g = find("rtx-4090-laptop");
	assert_int_equal(g.memory_bytes, 16376ull << 20);
	g = find("h100-sxm");
	assert_int_equal(g.cc_major, 9);
	assert_true(g.bandwidth_gbs == 3350);
	assert_int_equal(g.pcie_gen, 5);
	/* V100 PCIe has no nvidia-smi reading: the marketed 16 GiB */
	g = find("v100-pcie-16gb");
	assert_int_equal(g.memory_bytes, 16ull << 30);
	assert_false(g.bf16);
}

static void names_people_write(void **state)
{
	(void)state;
	assert_string_equal(find("rtx4050-laptop").id, "rtx-4050-laptop");
	assert_string_equal(find("RTX 3090").id, "rtx-3090");   /* not 3090 Ti */
	assert_string_equal(find("rtx3090ti").id, "rtx-3090-ti");
	assert_string_equal(find("NVIDIA GeForce RTX 4090").id, "rtx-4090");
	assert_string_equal(find("rtx5090").id, "rtx-5090");
	vf_gpu_spec g;
	vf_error err;
	assert_int_equal(vf_gpu_spec_find("h100", &g, &err), VF_EINVAL);
	assert_non_null(strstr(err.message, "h100-sxm"));
	assert_int_equal(vf_gpu_spec_find("rtx9090", &g, &err), VF_ENOTFOUND);
	assert_int_equal(vf_gpu_spec_find("", &g, &err), VF_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rows_parse),
		cmocka_unit_test(figures),
		cmocka_unit_test(names_people_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
