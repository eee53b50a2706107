/*
 * cmd_run.c - `vramfit run -- COMMAND ...`: starts a training command,
 * samples the GPU memory of its process tree through NVML while it runs,
 * and reports the measured peak (per GPU, the largest over GPUs), when it
 * happened and, with --expect, the prediction beside it.
 *
 * The command's exit status is passed through (128 + N for a signal), so
 * `vramfit run` can stand in for the command in scripts. Without NVML the
 * command still runs; only the measurement is missing.
 *
 * --record appends one calibration row (shared/calibration/SCHEMA.md) with
 * a single write() to a file opened O_APPEND, so concurrent runs never
 * interleave half lines.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TREE 4096

static volatile sig_atomic_t forward_sig;

static void on_signal(int sig)
{
	forward_sig = sig;
}

struct measurement {
	bool have;                /* NVML answered at least once */
	char why[VF_ERROR_MAX];   /* why not, when !have */
	uint64_t peak_bytes;      /* max over samples and GPUs */
	unsigned peak_gpu;
	double peak_at_s;         /* seconds after start */
	double duration_s;
	unsigned samples;
	uint64_t gpu_total_bytes; /* of the peak GPU */
	char gpu_name[96];
	char driver[80];
	unsigned gpus_used;       /* GPUs the tree touched */
};

static void help(void)
{
	printf("usage: vramfit run [OPTIONS] -- COMMAND [ARGS...]\n\n"
	       "Runs COMMAND, samples the GPU memory held by it and its child\n"
	       "processes (as nvidia-smi counts it), and prints the measured\n"
	       "peak per GPU and when it happened. The exit status is\n"
	       "COMMAND's.\n\n"
	       "  --interval SEC  seconds between samples (0.2)\n"
	       "  --expect FILE   an estimate --json file: print its\n"
	       "                  peak.process_bytes beside the measurement\n"
	       "  --record FILE   append the measurement as a calibration row\n\n"
	       "The report goes to stderr: stdout stays the command's.\n");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sample(vf_nvml *nvml, vf_gpu_list *l, pid_t child, int32_t *tree,
		   double t, struct measurement *m)
{
	vf_error err;
	if (vf_gpus_read(nvml, l, &err)) {
		if (!m->have)
			snprintf(m->why, sizeof m->why, "%s", err.message);
		return;
	}
	size_t n = vf_process_tree(child, tree, MAX_TREE);
	if (n > MAX_TREE)
		n = MAX_TREE;
	m->samples++;
	m->have = true;
	snprintf(m->driver, sizeof m->driver, "%s", l->driver_version);
	unsigned used = 0;
	for (unsigned i = 0; i < l->n_gpus; i++) {
		uint64_t b = vf_gpu_used_by(&l->gpus[i], tree, n);
		used += b > 0;
		if (b > m->peak_bytes) {
			m->peak_bytes = b;
			m->peak_at_s = t;
			m->peak_gpu = l->gpus[i].index;
			m->gpu_total_bytes = l->gpus[i].memory_total_bytes;
			snprintf(m->gpu_name, sizeof m->gpu_name, "%s",
				 l->gpus[i].name);
		}
	}
	if (used > m->gpus_used)
		m->gpus_used = used;
}

static void nap(double seconds)
{
	struct timespec ts = {(time_t)seconds,
			      (long)((seconds - floor(seconds)) * 1e9)};
	nanosleep(&ts, NULL); /* SIGCHLD or a signal ends it early: fine */
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_RUNTIME;
}

static void print_result(const struct measurement *m, uint64_t expect,
			 int status, char **cmd)
{
	(void)cmd;
	FILE *f = stderr;
	if (!m->have) {
		fprintf(f, "vramfit: no GPU measurement: %s\n", m->why);
		return;
	}
	fprintf(f, "vramfit: %s exited with %d after %.1f s (%u samples)\n",
		cmd[0], status, m->duration_s, m->samples);
	if (m->peak_bytes == 0) {
		fprintf(f, "vramfit: the command held no GPU memory that NVML "
			   "attributes to its processes\n");
		return;
	}
	fprintf(f, "vramfit: measured peak %llu MiB on GPU %u (%s) at %.1f s\n",
		cli_mib(m->peak_bytes), m->peak_gpu, m->gpu_name, m->peak_at_s);
	if (expect) {
		double e = 100.0 * ((double)m->peak_bytes - (double)expect) /
			   (double)expect;
		fprintf(f, "vramfit: predicted %llu MiB, measured %llu MiB: "
			   "prediction %s by %.1f%%\n",
			cli_mib(expect), cli_mib(m->peak_bytes),
			e > 0 ? "low" : "high", fabs(e));
	}
}

/* One row of the calibration schema; what we cannot know is null. */
static int record(const char *path, const struct measurement *m, int status,
		  char **cmd, int ncmd)
{
	if (!m->have || m->peak_bytes == 0) {
		fprintf(stderr, "vramfit: --record: nothing measured, no row "
				"written\n");
		return EXIT_RUNTIME;
	}
	char id[96], notes[300];
	snprintf(id, sizeof id, "vramfit-run-%lld-%d", (long long)time(NULL),
		 (int)getpid());
	json_t *argv_json = json_array();
	size_t qlen = 0;
	char quote[1024] = "";
	for (int i = 0; i < ncmd; i++) {
		json_array_append_new(argv_json, json_string(cmd[i]));
		int w = snprintf(quote + qlen, sizeof quote - qlen, "%s%s",
				 i ? " " : "", cmd[i]);
		if (w > 0 && (size_t)w < sizeof quote - qlen)
			qlen += (size_t)w;
	}
	snprintf(notes, sizeof notes,
		 "NVML per-process used memory of the command's process "
		 "tree, sampled %u times over %.1f s; peak at %.1f s on GPU %u; "
		 "exit status %d",
		 m->samples, m->duration_s, m->peak_at_s, m->peak_gpu, status);
	json_t *run = json_pack(
		"{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,"
		"s:n,s:n,s:n,"
		"s:{s:n,s:n,s:n,s:n,s:n},"
		"s:{s:n,s:n,s:n,s:n,s:n,s:n},"
		"s:n,s:{s:n,s:f}}",
		"model", "params_b", "method", "precision", "quant",
		"quant_storage", "lora", "micro_batch", "seq_len", "grad_accum",
		"grad_ckpt", "attention", "optimizer", "optimizer_in_backward",
		"loss", "packing", "compile", "activation_offload", "parallel",
		"n_gpus", "strategy", "offload", "tp", "cp", "framework", "name",
		"version", "torch", "transformers", "peft", "bitsandbytes",
		"phases", "gpu", "name", "memory_gib",
		(double)m->gpu_total_bytes / (1024.0 * 1024.0 * 1024.0));
	json_t *row = json_pack(
		"{s:s,s:s,s:s,s:b,s:s,s:b,s:o,"
		"s:{s:s,s:I,s:n,s:{s:n,s:n,s:n}},s:s,"
		"s:{s:o,s:i,s:f,s:f,s:i,s:s,s:s,s:s}}",
		"id", id, "source", "measured with vramfit run", "quote", quote,
		"measured_run", 1, "trust", "medium", "suspect", 0, "run", run,
		"measured", "metric", "process", "bytes",
		(json_int_t)m->peak_bytes, "oom", "also", "allocated", "reserved",
		"process", "notes", notes, "orig", "command", argv_json,
		"exit_status", status, "peak_at_s", m->peak_at_s, "duration_s",
		m->duration_s, "gpu_index", (int)m->peak_gpu, "gpu", m->gpu_name,
		"driver", m->driver, "vramfit", vf_version());
	char *text = row ? json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER) :
			   NULL;
	json_decref(row);
	if (!text) {
		fprintf(stderr, "vramfit: --record: out of memory\n");
		return EXIT_RUNTIME;
	}
	size_t len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL; written by length */
	int rc = EXIT_OK;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "vramfit: --record: %s: %s\n", path,
			strerror(errno));
		rc = EXIT_RUNTIME;
	}
	if (fd >= 0 && close(fd) != 0)
		rc = EXIT_RUNTIME;
	free(text);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"interval", required_argument, 0, 'i'},
		{"expect", required_argument, 0, 'e'},
		{"record", required_argument, 0, 'r'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	double interval = 0.2;
	const char *expect_path = NULL, *record_path = NULL;
	uint64_t expect = 0;
	int c;
	optind = 1;
	opterr = 0;
	/* "+": stop at the first non-option, the command */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!cli_parse_double("--interval", optarg, 0.01, 60,
					      &interval))
				return EXIT_USAGE;
			break;
		case 'e':
			expect_path = optarg;
			break;
		case 'r':
			record_path = optarg;
			break;
		case 'h':
			help();
			return EXIT_OK;
		default:
			return cli_usage_error("run: unknown option \"%s\"",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("run: no command (vramfit run -- "
				       "COMMAND ...)");
	if (expect_path && cli_read_expect(expect_path, &expect))
		return EXIT_USAGE;
	char **cmd = argv + optind;
	int ncmd = argc - optind;

	struct measurement m = {0};
	vf_error err;
	vf_nvml *nvml = NULL;
	if (vf_nvml_open(&nvml, &err))
		snprintf(m.why, sizeof m.why, "%s", err.message);
	vf_gpu_list *l = malloc(sizeof *l);
	int32_t *tree = malloc(MAX_TREE * sizeof *tree);
	if (!l || !tree) {
		free(l);
		free(tree);
		vf_nvml_close(nvml);
		fprintf(stderr, "vramfit: out of memory\n");
		return EXIT_RUNTIME;
	}

	fflush(NULL);
	double t0 = now_s();
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "vramfit: cannot start %s: %s\n", cmd[0],
			strerror(errno));
		free(l);
		free(tree);
		vf_nvml_close(nvml);
		return EXIT_RUNTIME;
	}
	if (child == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "vramfit: cannot run %s: %s\n", cmd[0],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126); /* as shells do */
	}
	/* Ctrl-C reaches the child through the terminal; a kill aimed at us
	 * is passed on, and we keep measuring until the child is gone. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	int status = 0;
	for (;;) {
		if (nvml)
			sample(nvml, l, child, tree, now_s() - t0, &m);
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
		if (w < 0 && errno != EINTR) {
			status = 0;
			break;
		}
		if (forward_sig) {
			kill(child, forward_sig == SIGINT ? SIGINT : SIGTERM);
			forward_sig = 0;
		}
		nap(interval);
	}
	m.duration_s = now_s() - t0;
	vf_nvml_close(nvml);
	free(l);
	free(tree);

	int code = exit_status_of(status);
	print_result(&m, expect, code, cmd);
	if (record_path)
		record(record_path, &m, code, cmd, ncmd);
	return code;
}
