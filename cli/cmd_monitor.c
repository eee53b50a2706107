/*
 * cmd_monitor.c - `vramfit monitor`: a live view of every visible GPU, like
 * `nvidia-smi -l 1`, with memory bars, throttle flags, the top processes,
 * alerts that set the exit status, CSV/JSONL logs and, given --expect, the
 * live usage against the predicted peak.
 *
 * Signals only set a flag; the loop notices it between samples (sleeps are
 * interrupted, not restarted). SIGPIPE is ignored so that a closed pipe is
 * a failed write, which ends the loop cleanly.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct opts {
	double interval_s;
	uint32_t count;           /* 0: until stopped */
	const char *csv, *jsonl, *expect;
	double alert_mem_pct;     /* 0: off */
	uint64_t alert_headroom;  /* 0: off */
	uint32_t alert_temp;      /* 0: off */
	uint32_t temp_warn;
	uint32_t top;
	uint64_t expect_bytes;
};

enum { ALERT_MEM, ALERT_HEADROOM, ALERT_TEMP, ALERT_COUNT };

struct state {
	bool active[VF_GPU_MAX][ALERT_COUNT]; /* print an alert when it starts */
	bool fired;
	FILE *csv, *jsonl;
};

static void help(void)
{
	printf("usage: vramfit monitor [OPTIONS]\n\n"
	       "Shows every visible GPU once per interval: memory used/total,\n"
	       "temperature (warning from --temp-warn), thermal and power\n"
	       "throttling, utilization and the processes holding the most\n"
	       "memory. Stops after --count samples or on Ctrl-C.\n\n"
	       "  --interval SEC      seconds between samples (1)\n"
	       "  --count N           stop after N samples (0: never)\n"
	       "  --csv FILE          log one row per GPU and sample\n"
	       "  --jsonl FILE        log one JSON line per sample\n"
	       "  --alert-mem P%%      alert when memory used reaches P%%\n"
	       "  --alert-headroom S  alert when free memory drops below S\n"
	       "                      (512MiB, 2GiB)\n"
	       "  --alert-temp C      alert from C degrees\n"
	       "  --temp-warn C       mark temperatures from C (80)\n"
	       "  --top N             processes shown per GPU (3)\n"
	       "  --expect FILE       an estimate --json file: show usage against\n"
	       "                      its peak.process_bytes\n\n"
	       "Exit status: 0, 1 when an alert fired, 2 usage, 3 no GPU.\n");
}

static void timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void bar(FILE *f, double frac, const char *on, const char *off)
{
	enum { WIDTH = 24 };
	int fill = (int)lround(frac * WIDTH);
	fputs(on, f);
	fputc('[', f);
	for (int i = 0; i < WIDTH; i++)
		fputc(i < fill ? '#' : '.', f);
	fputc(']', f);
	fputs(off, f);
}

static void draw(const vf_gpu_list *l, const struct opts *o, const char *ts,
		 FILE *f)
{
	const char *red = cli_color(f, "\033[31m"), *yel = cli_color(f, "\033[33m"),
		   *grn = cli_color(f, "\033[32m"), *off = cli_color(f, "\033[0m");
	if (cli_use_color(f))
		fputs("\033[H\033[2J", f); /* home, clear: redraw in place */
	fprintf(f, "%s  driver %s  %u GPU%s\n", ts,
		l->driver_version[0] ? l->driver_version : "unknown",
		l->n_gpus, l->n_gpus == 1 ? "" : "s");
	for (unsigned i = 0; i < l->n_gpus; i++) {
		const vf_gpu_info *g = &l->gpus[i];
		double frac = g->memory_total_bytes ?
				      (double)g->memory_used_bytes /
					      (double)g->memory_total_bytes :
				      0;
		fprintf(f, "GPU %u %-24.24s ", g->index, g->name);
		bar(f, frac, frac >= 0.9 ? red : frac >= 0.75 ? yel : grn, off);
		fprintf(f, " %6llu / %6llu MiB %3.0f%%",
			cli_mib(g->memory_used_bytes),
			cli_mib(g->memory_total_bytes), frac * 100);
		if (VF_GPU_HAS(g, VF_GPU_TEMPERATURE)) {
			bool hot = g->temperature_c >= o->temp_warn;
			fprintf(f, "  %s%3u C%s%s", hot ? red : "",
				g->temperature_c, hot ? " HOT" : "", hot ? off : "");
		}
		if (VF_GPU_HAS(g, VF_GPU_UTILIZATION))
			fprintf(f, "  util %3u%%", g->util_gpu_pct);
		if (VF_GPU_HAS(g, VF_GPU_POWER) && VF_GPU_HAS(g, VF_GPU_POWER_LIMIT))
			fprintf(f, "  %3.0f/%3.0f W", g->power_mw / 1000.0,
				g->power_limit_mw / 1000.0);
		if (VF_GPU_HAS(g, VF_GPU_THROTTLE)) {
			if (g->throttle & VF_THROTTLE_THERMAL)
				fprintf(f, "  %sTHERMAL-THROTTLE%s", red, off);
			if (g->throttle & VF_THROTTLE_POWER)
				fprintf(f, "  %sPOWER-THROTTLE%s", yel, off);
		}
		fputc('\n', f);
		if (o->expect_bytes)
			fprintf(f, "      %llu MiB of the predicted %llu MiB peak "
				   "(%.0f%%)\n",
				cli_mib(g->memory_used_bytes),
				cli_mib(o->expect_bytes),
				100.0 * (double)g->memory_used_bytes /
					(double)o->expect_bytes);
		for (unsigned j = 0; j < g->n_procs && j < o->top; j++) {
			const vf_gpu_process *p = &g->procs[j];
			fprintf(f, "      %8d %-20.20s ", p->pid,
				p->name[0] ? p->name : "?");
			if (p->used_known)
				fprintf(f, "%8llu MiB\n", cli_mib(p->used_bytes));
			else
				fprintf(f, "%12s\n", "n/a");
		}
	}
	if (!cli_use_color(f))
		fputc('\n', f);
}

/* Checks one condition; prints when it starts holding. */
static void alert(struct state *s, unsigned gpu, int kind, bool now,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void alert(struct state *s, unsigned gpu, int kind, bool now,
		  const char *fmt, ...)
{
	if (now && !s->active[gpu][kind]) {
		va_list ap;
		fputs("vramfit: alert: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		s->fired = true;
	}
	s->active[gpu][kind] = now;
}

static void check_alerts(const vf_gpu_list *l, const struct opts *o,
			 struct state *s)
{
	for (unsigned i = 0; i < l->n_gpus; i++) {
		const vf_gpu_info *g = &l->gpus[i];
		double pct = g->memory_total_bytes ?
				     100.0 * (double)g->memory_used_bytes /
					     (double)g->memory_total_bytes :
				     0;
		if (o->alert_mem_pct > 0)
			alert(s, i, ALERT_MEM, pct >= o->alert_mem_pct,
			      "GPU %u memory %.1f%% used (alert at %g%%)", i, pct,
			      o->alert_mem_pct);
		if (o->alert_headroom)
			alert(s, i, ALERT_HEADROOM,
			      g->memory_free_bytes < o->alert_headroom,
			      "GPU %u only %llu MiB free (alert below %llu MiB)",
			      i, cli_mib(g->memory_free_bytes),
			      cli_mib(o->alert_headroom));
		if (o->alert_temp)
			alert(s, i, ALERT_TEMP,
			      VF_GPU_HAS(g, VF_GPU_TEMPERATURE) &&
				      g->temperature_c >= o->alert_temp,
			      "GPU %u at %u C (alert from %u C)", i,
			      g->temperature_c, o->alert_temp);
	}
}

static void csv_field(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void log_csv(FILE *f, const vf_gpu_list *l, const char *ts)
{
	for (unsigned i = 0; i < l->n_gpus; i++) {
		const vf_gpu_info *g = &l->gpus[i];
		char t[256] = "";
		if (VF_GPU_HAS(g, VF_GPU_THROTTLE))
			vf_throttle_format(g->throttle, t, sizeof t);
		fprintf(f, "%s,%u,", ts, g->index);
		csv_field(f, g->name);
		fprintf(f, ",%llu,%llu,%llu,",
			(unsigned long long)g->memory_used_bytes,
			(unsigned long long)g->memory_total_bytes,
			(unsigned long long)g->memory_free_bytes);
		if (VF_GPU_HAS(g, VF_GPU_TEMPERATURE))
			fprintf(f, "%u", g->temperature_c);
		fputc(',', f);
		if (VF_GPU_HAS(g, VF_GPU_POWER))
			fprintf(f, "%u", g->power_mw);
		fputc(',', f);
		if (VF_GPU_HAS(g, VF_GPU_UTILIZATION))
			fprintf(f, "%u", g->util_gpu_pct);
		fputc(',', f);
		csv_field(f, t);
		fputc('\n', f);
	}
	fflush(f);
}

static void log_jsonl(FILE *f, const vf_gpu_list *l, const char *ts)
{
	char *text = vf_gpu_list_to_json(l);
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!o)
		return;
	json_object_set_new(o, "time", json_string(ts));
	char *line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (line) {
		fprintf(f, "%s\n", line);
		free(line);
	}
	fflush(f);
}

static void nap(double seconds)
{
	struct timespec ts = {(time_t)seconds,
			      (long)((seconds - floor(seconds)) * 1e9)};
	/* a signal ends the nap early: that is how Ctrl-C stops at once */
	while (!stop && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{"interval", required_argument, 0, 'i'},
		{"count", required_argument, 0, 'n'},
		{"csv", required_argument, 0, 'c'},
		{"jsonl", required_argument, 0, 'J'},
		{"alert-mem", required_argument, 0, 'm'},
		{"alert-headroom", required_argument, 0, 'H'},
		{"alert-temp", required_argument, 0, 't'},
		{"temp-warn", required_argument, 0, 'w'},
		{"top", required_argument, 0, 'p'},
		{"expect", required_argument, 0, 'e'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	*o = (struct opts){.interval_s = 1, .temp_warn = 80, .top = 3};
	int c;
	vf_error err;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hn:i:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!cli_parse_double("--interval", optarg, 0.01, 3600,
					      &o->interval_s))
				return EXIT_USAGE;
			break;
		case 'n':
			if (!cli_parse_u32("--count", optarg, 0, 100000000,
					   &o->count))
				return EXIT_USAGE;
			break;
		case 'c':
			o->csv = optarg;
			break;
		case 'J':
			o->jsonl = optarg;
			break;
		case 'm': {
			char buf[32];
			snprintf(buf, sizeof buf, "%s", optarg);
			size_t n = strlen(buf);
			if (n && buf[n - 1] == '%')
				buf[n - 1] = '\0';
			if (!cli_parse_double("--alert-mem", buf, 0.1, 100,
					      &o->alert_mem_pct))
				return EXIT_USAGE;
			break;
		}
		case 'H':
			if (vf_parse_size(optarg, &o->alert_headroom, &err))
				return cli_usage_error("--alert-headroom: %s",
						       err.message);
			break;
		case 't':
			if (!cli_parse_u32("--alert-temp", optarg, 1, 200,
					   &o->alert_temp))
				return EXIT_USAGE;
			break;
		case 'w':
			if (!cli_parse_u32("--temp-warn", optarg, 1, 200,
					   &o->temp_warn))
				return EXIT_USAGE;
			break;
		case 'p':
			if (!cli_parse_u32("--top", optarg, 0, VF_GPU_MAX_PROCS,
					   &o->top))
				return EXIT_USAGE;
			break;
		case 'e':
			o->expect = optarg;
			break;
		case 'h':
			help();
			return -1;
		default:
			return cli_usage_error("monitor: unknown option \"%s\"",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("monitor: unexpected argument \"%s\"",
				       argv[optind]);
	if (o->expect)
		return cli_read_expect(o->expect, &o->expect_bytes);
	return EXIT_OK;
}

static FILE *open_log(const char *path, const char *header)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "vramfit: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (header)
		fputs(header, f);
	return f;
}

int cmd_monitor(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;

	struct state *s = calloc(1, sizeof *s);
	vf_gpu_list *l = malloc(sizeof *l);
	vf_nvml *nvml = NULL;
	vf_error err;
	if (!s || !l) {
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (vf_nvml_open(&nvml, &err)) {
		rc = cli_gpu_error(&err);
		goto out;
	}
	if (o.csv && !(s->csv = open_log(o.csv,
					"time,index,name,memory_used_bytes,"
					"memory_total_bytes,memory_free_bytes,"
					"temperature_c,power_draw_mw,"
					"utilization_gpu_pct,throttle_reasons\n"))) {
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (o.jsonl && !(s->jsonl = open_log(o.jsonl, NULL))) {
		rc = EXIT_RUNTIME;
		goto out;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (uint32_t n = 0; !stop && (o.count == 0 || n < o.count); n++) {
		if (n)
			nap(o.interval_s);
		if (stop)
			break;
		if (vf_gpus_read(nvml, l, &err)) {
			rc = cli_gpu_error(&err);
			goto out;
		}
		if (n == 0 && l->n_gpus == 0) {
			fprintf(stderr, "vramfit: no GPU visible; without a "
					"GPU, give its memory with --vram N\n");
			rc = EXIT_RUNTIME;
			goto out;
		}
		char ts[40];
		timestamp(ts, sizeof ts);
		draw(l, &o, ts, stdout);
		if (fflush(stdout) || ferror(stdout))
			break; /* the reader went away (EPIPE): stop quietly */
		check_alerts(l, &o, s);
		if (s->csv)
			log_csv(s->csv, l, ts);
		if (s->jsonl)
			log_jsonl(s->jsonl, l, ts);
	}
	rc = s->fired ? EXIT_DOES_NOT_FIT : EXIT_OK;
out:
	if (s && s->csv && fclose(s->csv))
		rc = EXIT_RUNTIME;
	if (s && s->jsonl && fclose(s->jsonl))
		rc = EXIT_RUNTIME;
	vf_nvml_close(nvml);
	free(l);
	free(s);
	return rc;
}
