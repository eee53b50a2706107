/*
 * test_nvml.c - GPU detection against the fake libnvidia-ml.so.1
 * (tests/fake_nvml), one scripted scenario per test: no library, missing
 * symbols, driver not loaded, 0/1/8 GPUs, a mixed box, a growing process
 * list, a hot throttling GPU, CUDA_VISIBLE_DEVICES, the --vram auto budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nvml.h"
#include "vramfit.h"

#define MIB (1024ull * 1024ull)

static char scenario_path[512];
static vf_gpu_list list; /* 350 KiB: not on the stack */

static void use_library(const char *variant)
{
	char path[1024];
	const char *bin = getenv("VF_BINARY_DIR");
	snprintf(path, sizeof path, "%s/tests/fake_nvml/%s/libnvidia-ml.so.1",
		 bin ? bin : ".", variant);
	setenv("VRAMFIT_NVML_LIBRARY", path, 1);
}

/* Writes the scenario (key=value lines) and points the fake at it. */
static void scenario(const char *text)
{
	FILE *f = fopen(scenario_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	setenv("FAKE_NVML_SCENARIO", scenario_path, 1);
	use_library("full");
	unsetenv("CUDA_VISIBLE_DEVICES");
	unsetenv("CUDA_DEVICE_ORDER");
}

static void detect_ok(void)
{
	vf_error err = {0};
	vf_status st = vf_gpus_detect(&list, &err);
	if (st)
		fail_msg("vf_gpus_detect: %s", err.message);
}

static void expect_nodev(const char *needle)
{
	vf_error err = {0};
	assert_int_equal(vf_gpus_detect(&list, &err), VF_ENODEV);
	if (!strstr(err.message, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
	assert_null(strchr(err.message, '\n'));
	assert_int_equal(list.n_gpus, 0);
}

static void test_struct_version(void **state)
{
	(void)state;
	/* nvml.h: NVML_STRUCT_VERSION(Memory, 2) on LP64 */
	assert_int_equal(VF_NVML_MEMORY_V2_VERSION, 0x02000028);
}

static void test_library_missing(void **state)
{
	(void)state;
	scenario("gpus=1\n");
	setenv("VRAMFIT_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
	expect_nodev("library not found");
}

static void test_required_symbol_missing(void **state)
{
	(void)state;
	scenario("gpus=1\n");
	use_library("no_required");
	expect_nodev("nvmlDeviceGetName");
}

static void test_driver_not_loaded(void **state)
{
	(void)state;
	scenario("init=driver_not_loaded\n");
	expect_nodev("driver not loaded");
}

static void test_zero_gpus(void **state)
{
	(void)state;
	scenario("gpus=0\n");
	detect_ok();
	assert_int_equal(list.n_gpus, 0);
	assert_int_equal(list.nvml_count, 0);
	vf_gpu_budget b;
	vf_error err = {0};
	assert_int_equal(vf_gpu_budget_compute(&list, 0, &b, &err), VF_ENODEV);
	assert_non_null(strstr(err.message, "no GPU"));
}

static void test_one_gpu(void **state)
{
	(void)state;
	char text[512];
	/* our own PID, so the process name comes from our /proc entry */
	snprintf(text, sizeof text,
		 "gpus=1\ndriver=555.42.06\ngpu0.name=NVIDIA GeForce RTX 4090\n"
		 "gpu0.total_mib=24564\ngpu0.reserved_mib=396\n"
		 "gpu0.procs=%d:1000,1:na\ngpu0.graphics=%d:1000\n"
		 "gpu0.util=37,12\n",
		 (int)getpid(), (int)getpid());
	scenario(text);
	detect_ok();
	assert_string_equal(list.driver_version, "555.42.06");
	assert_int_equal(list.n_gpus, 1);
	const vf_gpu_info *g = &list.gpus[0];
	assert_string_equal(g->name, "NVIDIA GeForce RTX 4090");
	assert_true(VF_GPU_HAS(g, VF_GPU_UUID));
	assert_memory_equal(g->uuid, "GPU-", 4);
	assert_string_equal(g->pci_bus_id, "00000000:01:00.0");
	assert_true(g->memory_total_bytes == 24564 * MIB);
	/* the reserve comes back only if the v2 struct version was right */
	assert_true(VF_GPU_HAS(g, VF_GPU_MEMORY_RESERVED));
	assert_true(g->memory_reserved_bytes == 396 * MIB);
	assert_true(g->memory_used_bytes == 1000 * MIB);
	assert_true(g->memory_free_bytes == (24564 - 396 - 1000) * MIB);
	assert_int_equal(g->cc_major, 8);
	assert_int_equal(g->cc_minor, 9);
	assert_true(g->bf16);
	assert_int_equal(g->util_gpu_pct, 37);
	assert_int_equal(g->util_memory_pct, 12);
	assert_int_equal(g->pcie_gen, 4);
	assert_int_equal(g->pcie_width, 16);
	/* one PID on both lists is one process */
	assert_int_equal(g->n_procs, 2);
	assert_int_equal(g->procs[0].pid, getpid());
	assert_string_equal(g->procs[0].name, "test_nvml");
	assert_true(g->procs[0].used_known);
	assert_true(g->procs[0].used_bytes == 1000 * MIB);
	assert_int_equal(g->procs[1].pid, 1);
	assert_false(g->procs[1].used_known);
	assert_true(VF_GPU_HAS(g, VF_GPU_PROCESSES));
	int32_t me = getpid();
	assert_true(vf_gpu_used_by(g, &me, 1) == 1000 * MIB);
}

static void test_eight_gpus_and_visible_devices(void **state)
{
	(void)state;
	scenario("gpus=8\ngpu*.name=NVIDIA H100 80GB HBM3\n"
		 "gpu*.total_mib=81559\ngpu*.cc=9.0\n");
	detect_ok();
	assert_int_equal(list.n_gpus, 8);
	assert_true(list.order_exact);
	assert_false(list.filtered);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(list.gpus[i].index, i);
		assert_int_equal(list.gpus[i].nvml_index, i);
	}
	static const struct {
		const char *cvd;
		unsigned n;
		unsigned nvml[3];
	} cases[] = {
		{"3,1", 2, {3, 1}},
		{" 6 , 0 ", 2, {6, 0}},
		{"GPU-fa4e0005", 1, {5}},
		{"GPU-FA4E0002-0000,7", 2, {2, 7}},
		{"GPU-fa4e", 0, {0}},      /* ambiguous prefix */
		{"2,x,4", 1, {2}},         /* the list ends at an invalid entry */
		{"1,1,2", 1, {1}},         /* ... or a repeated one */
		{"4,8,5", 1, {4}},         /* ... or one out of range */
		{"-1", 0, {0}},
		{"", 0, {0}},
		{"MIG-0", 0, {0}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		setenv("CUDA_VISIBLE_DEVICES", cases[c].cvd, 1);
		detect_ok();
		if (list.n_gpus != cases[c].n)
			fail_msg("\"%s\": %u GPUs, wanted %u", cases[c].cvd,
				 list.n_gpus, cases[c].n);
		assert_true(list.filtered);
		assert_int_equal(list.nvml_count, 8);
		for (unsigned i = 0; i < list.n_gpus; i++) {
			assert_int_equal(list.gpus[i].index, i);
			if (list.gpus[i].nvml_index != cases[c].nvml[i])
				fail_msg("\"%s\": GPU %u is NVML %u, wanted %u",
					 cases[c].cvd, i,
					 list.gpus[i].nvml_index,
					 cases[c].nvml[i]);
		}
	}
}

static void test_mixed_box_budget(void **state)
{
	(void)state;
	scenario("gpus=2\n"
		 "gpu0.name=NVIDIA GeForce RTX 4090\ngpu0.total_mib=24564\n"
		 "gpu0.reserved_mib=400\ngpu0.procs=4242:361\n"
		 "gpu1.name=NVIDIA GeForce RTX 3080\ngpu1.total_mib=10240\n"
		 "gpu1.cc=8.6\ngpu1.used_mib=100\n");
	detect_ok();
	assert_int_equal(list.n_gpus, 2);
	assert_false(list.order_exact); /* FASTEST_FIRST may reorder */
	setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
	detect_ok();
	assert_true(list.order_exact);

	vf_gpu_budget b;
	vf_error err = {0};
	uint64_t margin = 512 * MIB;
	assert_int_equal(vf_gpu_budget_compute(&list, margin, &b, &err), VF_OK);
	assert_int_equal(b.n_gpus, 2);
	assert_true(b.mixed);
	/* GPU 0: total - reserve - the 361 MiB process - margin */
	assert_true(b.gpu[0].others_bytes == 361 * MIB);
	assert_true(b.gpu[0].unattributed_bytes == 0);
	assert_true(b.gpu[0].budget_bytes == (24564 - 400 - 361 - 512) * MIB);
	/* GPU 1: 100 MiB used that no process list shows */
	assert_true(b.gpu[1].others_bytes == 100 * MIB);
	assert_true(b.gpu[1].unattributed_bytes == 100 * MIB);
	assert_true(b.gpu[1].budget_bytes == (10240 - 100 - 512) * MIB);
	/* replicas are bound by the smallest GPU, never the sum */
	assert_int_equal(b.min_index, 1);
	assert_true(b.min_budget_bytes == b.gpu[1].budget_bytes);

	/* a margin larger than the GPU floors at zero */
	assert_int_equal(vf_gpu_budget_compute(&list, 1ull << 40, &b, &err),
			 VF_OK);
	assert_true(b.gpu[0].budget_bytes == 0 && b.min_budget_bytes == 0);
}

static void test_growing_process_list(void **state)
{
	(void)state;
	scenario("gpus=1\ngpu0.grow=20\n");
	vf_nvml *nvml;
	vf_error err = {0};
	assert_int_equal(vf_nvml_open(&nvml, &err), VF_OK);
	/* every call lists 20 more: the read must retry with a bigger buffer */
	assert_int_equal(vf_gpus_read(nvml, &list, &err), VF_OK);
	assert_true(VF_GPU_HAS(&list.gpus[0], VF_GPU_PROCESSES));
	assert_true(list.gpus[0].n_procs >= 40);
	assert_int_equal(list.gpus[0].procs_dropped, 0);
	/* past VF_GPU_MAX_PROCS the rest are counted, not stored */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vf_gpus_read(nvml, &list, &err), VF_OK);
	assert_int_equal(list.gpus[0].n_procs, VF_GPU_MAX_PROCS);
	assert_true(list.gpus[0].procs_dropped > 0);
	vf_nvml_close(nvml);
}

static void test_optional_symbols_missing(void **state)
{
	(void)state;
	scenario("gpus=1\ngpu0.reserved_mib=300\ngpu0.procs=77:512,78:na\n"
		 "gpu0.throttle=4\n");
	use_library("no_optional");
	detect_ok();
	const vf_gpu_info *g = &list.gpus[0];
	assert_false(VF_GPU_HAS(g, VF_GPU_TEMPERATURE));
	/* v1 memory: the reserve is unknown and counted as used */
	assert_false(VF_GPU_HAS(g, VF_GPU_MEMORY_RESERVED));
	assert_true(g->memory_used_bytes == (512 + 300) * MIB);
	/* the v1 process layout is read with its own stride */
	assert_int_equal(g->n_procs, 2);
	assert_int_equal(g->procs[0].pid, 77);
	assert_true(g->procs[0].used_bytes == 512 * MIB);
	assert_int_equal(g->procs[1].pid, 78);
	assert_false(g->procs[1].used_known);
	/* the pre-12.2 name of the throttle call */
	assert_true(VF_GPU_HAS(g, VF_GPU_THROTTLE));
	assert_true(g->throttle == VF_THROTTLE_SW_POWER_CAP);
	/* same budget as the v2 path: the reserve shows up as unattributed */
	vf_gpu_budget b;
	assert_int_equal(vf_gpu_budget_compute(&list, 0, &b, NULL), VF_OK);
	assert_true(b.gpu[0].budget_bytes == (24564 - 300 - 512) * MIB);
}

static void test_memory_v2_unsupported(void **state)
{
	(void)state;
	scenario("gpus=1\ngpu0.memory_v2=0\ngpu0.reserved_mib=300\n");
	detect_ok();
	assert_false(VF_GPU_HAS(&list.gpus[0], VF_GPU_MEMORY_RESERVED));
	assert_true(list.gpus[0].memory_used_bytes == 300 * MIB);
}

static void test_hot_throttling_gpu(void **state)
{
	(void)state;
	scenario("gpus=1\ngpu0.temp=85\ngpu0.throttle=0x60\n"
		 "gpu0.power_mw=449000\ngpu0.limit_mw=450000\n");
	detect_ok();
	const vf_gpu_info *g = &list.gpus[0];
	assert_int_equal(g->temperature_c, 85);
	assert_true(g->throttle & VF_THROTTLE_THERMAL);
	assert_false(g->throttle & VF_THROTTLE_POWER);
	assert_int_equal(g->power_mw, 449000);
	char buf[128];
	vf_throttle_format(g->throttle, buf, sizeof buf);
	assert_string_equal(buf, "sw_thermal,hw_thermal");
	vf_throttle_format(0, buf, sizeof buf);
	assert_string_equal(buf, "none");
	vf_throttle_format(0x1004, buf, sizeof buf);
	assert_string_equal(buf, "sw_power_cap,0x1000");
	/* the size it needs, like snprintf */
	assert_int_equal(vf_throttle_format(0x60, buf, 4),
			 strlen("sw_thermal,hw_thermal"));
	assert_string_equal(buf, "sw_");
}

static void test_json(void **state)
{
	(void)state;
	scenario("gpus=2\ngpu0.procs=4242:361\ngpu1.temp=85\n"
		 "gpu0.name=Quote\"Back\\slash\n");
	use_library("no_optional");
	detect_ok();
	char *text = vf_gpu_list_to_json(&list);
	assert_non_null(text);
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	free(text);
	if (!root)
		fail_msg("invalid JSON: %s", jerr.text);
	assert_int_equal(json_integer_value(json_object_get(root,
							    "schema_version")),
			 1);
	assert_string_equal(json_string_value(json_object_get(root,
							      "driver_version")),
			    "550.54.15");
	json_t *gpus = json_object_get(root, "gpus");
	assert_int_equal(json_array_size(gpus), 2);
	json_t *g0 = json_array_get(gpus, 0);
	assert_string_equal(json_string_value(json_object_get(g0, "name")),
			    "Quote\"Back\\slash");
	assert_true(json_integer_value(json_object_get(g0, "memory_total_bytes")) ==
		    (json_int_t)(24564 * MIB));
	/* unknown is null, not 0 */
	assert_true(json_is_null(json_object_get(g0, "temperature_c")));
	assert_true(json_is_null(json_object_get(g0, "memory_reserved_bytes")));
	json_t *p = json_array_get(json_object_get(g0, "processes"), 0);
	assert_int_equal(json_integer_value(json_object_get(p, "pid")), 4242);
	assert_true(json_integer_value(json_object_get(p, "used_bytes")) ==
		    (json_int_t)(361 * MIB));
	static const char *const keys[] = {
		"index", "uuid", "memory_used_bytes", "memory_free_bytes",
		"compute_capability", "bf16", "power_draw_mw", "power_limit_mw",
		"utilization_gpu_pct", "throttle_reasons", "pcie_generation",
		"pcie_width", "processes_complete"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!json_object_get(g0, keys[i]))
			fail_msg("gpus[0] lacks %s", keys[i]);
	json_decref(root);
}

static void test_process_tree(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0) {
			pause();
			_exit(0);
		}
		pause();
		_exit(0);
	}
	int32_t pids[64];
	size_t n = 0;
	/* wait for the grandchild to appear */
	for (int tries = 0; tries < 200 && n < 3; tries++) {
		n = vf_process_tree(getpid(), pids, 64);
		if (n < 3)
			usleep(10000);
	}
	assert_true(n >= 3);
	assert_int_equal(pids[0], getpid());
	bool has_child = false;
	for (size_t i = 0; i < n; i++)
		has_child |= pids[i] == child;
	assert_true(has_child);
	/* a short array still reports how many there are */
	assert_int_equal(vf_process_tree(getpid(), pids, 1), n);
	for (size_t i = n; i-- > 1;)
		kill(pids[i], SIGKILL);
	waitpid(child, NULL, 0);
}

/* Open, read, close many times: ASan (make asan) must see no leak. */
static void test_repeated_sessions(void **state)
{
	(void)state;
	scenario("gpus=8\ngpu*.procs=10:1,11:2,12:3\ngpu3.grow=1\n");
	for (int i = 0; i < 50; i++)
		detect_ok();
	vf_nvml *nvml;
	assert_int_equal(vf_nvml_open(&nvml, NULL), VF_OK);
	for (int i = 0; i < 200; i++)
		assert_int_equal(vf_gpus_read(nvml, &list, NULL), VF_OK);
	vf_nvml_close(nvml);
	vf_nvml_close(NULL);
}

int main(void)
{
	snprintf(scenario_path, sizeof scenario_path, "/tmp/vf_nvml_%d.conf",
		 (int)getpid());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_version),
		cmocka_unit_test(test_library_missing),
		cmocka_unit_test(test_required_symbol_missing),
		cmocka_unit_test(test_driver_not_loaded),
		cmocka_unit_test(test_zero_gpus),
		cmocka_unit_test(test_one_gpu),
		cmocka_unit_test(test_eight_gpus_and_visible_devices),
		cmocka_unit_test(test_mixed_box_budget),
		cmocka_unit_test(test_growing_process_list),
		cmocka_unit_test(test_optional_symbols_missing),
		cmocka_unit_test(test_memory_v2_unsupported),
		cmocka_unit_test(test_hot_throttling_gpu),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_process_tree),
		cmocka_unit_test(test_repeated_sessions),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(scenario_path);
	return rc;
}
