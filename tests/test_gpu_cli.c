/*
 * test_gpu_cli.c - the gpus, monitor and run commands of the built CLI
 * ($VRAMFIT) against the fake libnvidia-ml.so.1: exit statuses, what goes
 * to stdout and stderr, the logs they write. Under `make asan` the CLI is
 * sanitized too, so a leak in a long monitor or run fails its exit status.
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
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)

static char dir[256], out_path[300], err_path[300], scen_path[300];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Points the CLI at the fake (variant "full") or at nothing (NULL). */
static void driver(const char *scenario)
{
	char lib[1024];
	snprintf(lib, sizeof lib, "%s/tests/fake_nvml/full/libnvidia-ml.so.1",
		 getenv("VF_BINARY_DIR"));
	if (scenario) {
		write_file(scen_path, scenario);
		setenv("FAKE_NVML_SCENARIO", scen_path, 1);
		setenv("VRAMFIT_NVML_LIBRARY", lib, 1);
	} else {
		setenv("VRAMFIT_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
	}
	unsetenv("CUDA_VISIBLE_DEVICES");
	setenv("NO_COLOR", "1", 1);
}

/* Starts $VRAMFIT with args (NULL-terminated), stdout/stderr to files. */
static pid_t start(const char *const *args)
{
	const char *exe = getenv("VRAMFIT");
	assert_non_null(exe);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[32];
		int n = 0;
		argv[n++] = (char *)exe;
		for (; args[n - 1] && n < 31; n++)
			argv[n] = (char *)args[n - 1];
		argv[n] = NULL;
		if (!freopen(out_path, "w", stdout) ||
		    !freopen(err_path, "w", stderr))
			_exit(99);
		execv(exe, argv);
		_exit(98);
	}
	return pid;
}

static int finish(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int run_cli(const char *const *args)
{
	return finish(start(args));
}

static void expect_in(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("\"%s\" not in:\n%s", needle, text);
}

static void test_no_driver(void **state)
{
	(void)state;
	driver(NULL);
	assert_int_equal(run_cli((const char *[]){"gpus", NULL}), 3);
	char *e = slurp(err_path);
	expect_in(e, "library not found");
	expect_in(e, "--vram N");
	assert_int_equal(strchr(e, '\n') - e + 1, (long)strlen(e)); /* 1 line */
	free(e);
	/* commands that need no GPU work as before */
	assert_int_equal(run_cli((const char *[]){"models", NULL}), 0);
	assert_int_equal(run_cli((const char *[]){"monitor", "--count", "1",
						  NULL}),
			 3);
	/* run still runs the command and passes its status through */
	assert_int_equal(run_cli((const char *[]){"run", "--", "sh", "-c",
						  "exit 5", NULL}),
			 5);
	e = slurp(err_path);
	expect_in(e, "no GPU measurement");
	free(e);
}

static void test_gpus_json_driver_not_loaded(void **state)
{
	(void)state;
	driver("init=driver_not_loaded\n");
	assert_int_equal(run_cli((const char *[]){"gpus", "--json", NULL}), 3);
	char *o = slurp(out_path);
	json_t *root = json_loads(o, 0, NULL);
	free(o);
	assert_non_null(root);
	expect_in(json_string_value(json_object_get(root, "error")),
		  "driver not loaded");
	assert_int_equal(json_array_size(json_object_get(root, "gpus")), 0);
	json_decref(root);
}

static void test_gpus_mixed_box(void **state)
{
	(void)state;
	/* PID 1 holds memory; its name comes from /proc, as read here */
	driver("gpus=2\ngpu0.name=NVIDIA GeForce RTX 4090\ngpu0.procs=1:361\n"
	       "gpu1.name=NVIDIA GeForce RTX 3080\ngpu1.total_mib=10240\n");
	char comm[64] = "";
	FILE *f = fopen("/proc/1/comm", "r");
	if (f) {
		if (fgets(comm, sizeof comm, f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	assert_int_equal(run_cli((const char *[]){"gpus", NULL}), 0);
	char *e = slurp(err_path), *o = slurp(out_path), want[128];
	snprintf(want, sizeof want, "%s: 361 MiB on GPU 0", comm);
	expect_in(e, want);
	expect_in(e, "CUDA_DEVICE_ORDER=PCI_BUS_ID");
	expect_in(o, "361 / 24564 MiB");
	assert_null(strchr(o, '\033'));
	free(e);
	free(o);

	setenv("CUDA_VISIBLE_DEVICES", "1", 1);
	assert_int_equal(run_cli((const char *[]){"gpus", "--json", NULL}), 0);
	o = slurp(out_path);
	json_t *root = json_loads(o, 0, NULL);
	free(o);
	assert_non_null(root);
	json_t *gpus = json_object_get(root, "gpus");
	assert_int_equal(json_array_size(gpus), 1);
	json_t *g = json_array_get(gpus, 0);
	assert_int_equal(json_integer_value(json_object_get(g, "index")), 0);
	assert_int_equal(json_integer_value(json_object_get(g, "nvml_index")), 1);
	assert_true(json_integer_value(json_object_get(g, "memory_total_bytes")) ==
		    (json_int_t)(10240 * MIB));
	json_decref(root);
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void test_monitor_logs_and_alerts(void **state)
{
	(void)state;
	driver("gpus=2\ngpu1.temp=85\ngpu1.throttle=0x40\ngpu0.procs=1:100\n");
	char csv[320], jsonl[320];
	snprintf(csv, sizeof csv, "%s/m.csv", dir);
	snprintf(jsonl, sizeof jsonl, "%s/m.jsonl", dir);
	/* many samples: flat memory and no leak under ASan */
	assert_int_equal(run_cli((const char *[]){"monitor", "--count", "60",
						  "--interval", "0.01", "--csv",
						  csv, "--jsonl", jsonl,
						  "--alert-temp", "80", NULL}),
			 1);
	char *e = slurp(err_path), *o = slurp(out_path);
	expect_in(e, "alert: GPU 1 at 85 C");
	/* printed when it starts, not every sample */
	assert_null(strstr(strstr(e, "alert: GPU") + 1, "alert: GPU"));
	expect_in(o, "THERMAL-THROTTLE");
	expect_in(o, "85 C HOT");
	assert_null(strchr(o, '\033')); /* a pipe gets no escape codes */
	free(e);
	free(o);
	char *c = slurp(csv), *j = slurp(jsonl);
	assert_int_equal(count_lines(c), 1 + 60 * 2);
	assert_int_equal(count_lines(j), 60);
	json_t *first = json_loads(j, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(first);
	assert_non_null(json_object_get(first, "time"));
	assert_int_equal(json_array_size(json_object_get(first, "gpus")), 2);
	json_decref(first);
	free(c);
	free(j);

	/* no alert configured that fires: exit 0 */
	assert_int_equal(run_cli((const char *[]){"monitor", "--count", "3",
						  "--interval", "0.01",
						  "--alert-mem", "95%",
						  "--alert-headroom", "512MiB",
						  NULL}),
			 0);
	/* headroom below 23 GiB free on a 24 GiB card fires */
	assert_int_equal(run_cli((const char *[]){"monitor", "--count", "2",
						  "--interval", "0.01",
						  "--alert-headroom", "24GiB",
						  NULL}),
			 1);
	assert_int_equal(run_cli((const char *[]){"monitor", "--alert-mem",
						  "150%", NULL}),
			 2);
}

static void test_monitor_stops_on_sigterm(void **state)
{
	(void)state;
	driver("gpus=1\n");
	pid_t pid = start((const char *[]){"monitor", "--interval", "5", NULL});
	usleep(300000);
	kill(pid, SIGTERM);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(finish(pid), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* it does not sit out the 5 s interval */
	assert_true(t1.tv_sec - t0.tv_sec < 3);
}

static void test_run_measures_and_records(void **state)
{
	(void)state;
	/* every child of vramfit holds 1000 MiB + 50 MiB per sample */
	driver("gpus=2\ngpu*.child_mib=1000\ngpu*.child_step_mib=50\n");
	char rec[320], exp[320];
	snprintf(rec, sizeof rec, "%s/runs.jsonl", dir);
	snprintf(exp, sizeof exp, "%s/estimate.json", dir);
	write_file(exp, "{\"chosen\":{\"peak\":{\"process_bytes\":1073741824}}}");
	unlink(rec);
	for (int i = 0; i < 2; i++)
		assert_int_equal(run_cli((const char *[]){"run", "--interval",
							  "0.02", "--expect", exp,
							  "--record", rec, "--",
							  "sh", "-c",
							  "sleep 0.3; exit 7",
							  NULL}),
				 7);
	char *e = slurp(err_path);
	expect_in(e, "measured peak");
	expect_in(e, "predicted 1024 MiB");
	expect_in(e, "prediction low by");
	free(e);
	char *r = slurp(rec);
	assert_int_equal(count_lines(r), 2);
	json_t *row = json_loads(r, JSON_DISABLE_EOF_CHECK, NULL);
	free(r);
	assert_non_null(row);
	json_t *m = json_object_get(row, "measured");
	assert_string_equal(json_string_value(json_object_get(m, "metric")),
			    "process");
	assert_true(json_integer_value(json_object_get(m, "bytes")) >=
		    (json_int_t)(1050 * MIB));
	assert_string_equal(json_string_value(json_object_get(row, "source")),
			    "measured with vramfit run");
	json_t *run = json_object_get(row, "run");
	assert_true(json_is_null(json_object_get(run, "model")));
	assert_true(json_object_get(json_object_get(run, "gpu"), "memory_gib") !=
		    NULL);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(row, "orig"), "exit_status")),
			 7);
	json_decref(row);
	/* a command that is not there: 127 as a shell says */
	assert_int_equal(run_cli((const char *[]){"run", "--",
						  "/nonexistent/cmd", NULL}),
			 127);
	assert_int_equal(run_cli((const char *[]){"run", NULL}), 2);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/vf_gpu_cli_%d", (int)getpid());
	char cmd[300];
	snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
	if (system(cmd) != 0)
		return 1;
	snprintf(out_path, sizeof out_path, "%s/stdout", dir);
	snprintf(err_path, sizeof err_path, "%s/stderr", dir);
	snprintf(scen_path, sizeof scen_path, "%s/scenario", dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_driver),
		cmocka_unit_test(test_gpus_json_driver_not_loaded),
		cmocka_unit_test(test_gpus_mixed_box),
		cmocka_unit_test(test_monitor_logs_and_alerts),
		cmocka_unit_test(test_monitor_stops_on_sigterm),
		cmocka_unit_test(test_run_measures_and_records),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
