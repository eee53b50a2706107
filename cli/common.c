/* common.c - helpers shared by the commands: errors, colour, numbers. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("vramfit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_exit_for(vf_status st)
{
	switch (st) {
	case VF_OK:
		return EXIT_OK;
	case VF_EIO:
	case VF_ENOMEM:
	case VF_ENET:
	case VF_ENODEV:
		return EXIT_RUNTIME;
	default:
		return EXIT_USAGE;
	}
}

int cli_report(const vf_error *err)
{
	fprintf(stderr, "vramfit: %s\n", err->message);
	return cli_exit_for(err->status);
}

bool cli_use_color(FILE *f)
{
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return false;
	const char *term = getenv("TERM");
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return isatty(fileno(f));
}

const char *cli_color(FILE *f, const char *sgr)
{
	return cli_use_color(f) ? sgr : "";
}

bool cli_parse_u32(const char *flag, const char *s, unsigned long min,
		   unsigned long max, uint32_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+') {
		cli_usage_error("%s: expected a whole number from %lu to %lu, "
				"got \"%s\"",
				flag, min, max, s ? s : "");
		return false;
	}
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno) {
		cli_usage_error("%s: \"%s\" is not a whole number", flag, s);
		return false;
	}
	if (v < min || v > max) {
		cli_usage_error("%s: %s is out of range (%lu to %lu)", flag, s,
				min, max);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool cli_parse_double(const char *flag, const char *s, double min, double max,
		      double *out)
{
	char *end;
	if (!s || !*s) {
		cli_usage_error("%s: expected a number", flag);
		return false;
	}
	double v = strtod(s, &end);
	if (*end || !isfinite(v)) {
		cli_usage_error("%s: \"%s\" is not a number", flag, s);
		return false;
	}
	if (v < min || v > max) {
		cli_usage_error("%s: %s is out of range (%g to %g)", flag, s, min,
				max);
		return false;
	}
	*out = v;
	return true;
}

char *cli_group_digits(uint64_t v, char *buf, size_t size)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
	size_t o = 0;
	for (int i = 0; i < n && o + 1 < size; i++) {
		if (i && (n - i) % 3 == 0 && o + 2 < size)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* The fetch progress line, redrawn in place; NULL clears it. */
static void show_progress(const char *line, void *payload)
{
	(void)payload;
	if (line)
		fprintf(stderr, "\rvramfit: %.200s\033[K", line);
	else
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

int cli_load_model_from(const char *spec, bool offline, vf_model *model)
{
	vf_source_info info;
	return cli_load_model_info(spec, offline, model, &info);
}

int cli_load_model_info(const char *spec, bool offline, vf_model *model,
			vf_source_info *out)
{
	vf_error err;
	vf_source_opts opts;
	vf_source_info local;
	vf_source_info *info_p = out ? out : &local;
	vf_source_opts_init(&opts);
	opts.offline = offline;
	if (isatty(fileno(stderr)))
		opts.progress = show_progress;
	vf_status st = vf_model_resolve(spec, &opts, model, info_p, &err);
	if (st) {
		fprintf(stderr, "vramfit: --model: %s\n", err.message);
		return cli_exit_for(st);
	}
	for (unsigned i = 0; i < info_p->n_warnings; i++)
		fprintf(stderr, "vramfit: note: %s\n", info_p->warnings[i]);
	return EXIT_OK;
}

bool cli_host_ram_available(uint64_t *bytes)
{
	/* MemAvailable counts reclaimable page cache: what a process can
	 * take without swapping (proc(5)). */
	FILE *f = fopen("/proc/meminfo", "r");
	if (f) {
		char line[256];
		unsigned long long kib;
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
				fclose(f);
				*bytes = (uint64_t)kib * 1024u;
				return kib > 0;
			}
		fclose(f);
	}
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || size <= 0)
		return false;
	*bytes = (uint64_t)pages * (uint64_t)size;
	return true;
}

int cli_load_model(const char *spec, vf_model *model)
{
	return cli_load_model_from(spec, false, model);
}
