/* cmd_validate.c - `vramfit validate [FILE ...]`: accuracy on measured runs. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#ifndef VF_DEFAULT_CALIBRATION
#define VF_DEFAULT_CALIBRATION "tests/data/calibration/runs.v1.jsonl"
#endif

static void help(void)
{
	printf("usage: vramfit validate [--json] [--all] [--max-median PCT]\n"
	       "                        [--max-unsafe N] [FILE ...]\n\n"
	       "Predicts every run in FILEs of the calibration schema (default:\n"
	       "%s) and compares each prediction with the\n"
	       "measured metric of the same kind (allocated, reserved, process).\n"
	       "A row is unsafe when prediction + 1024 MiB is still below the\n"
	       "measurement, or when a run that ran out of memory is predicted\n"
	       "to fit.\n\n"
	       "  --json            every row and the summaries as JSON\n"
	       "  --all             list unscored rows too, with the reason\n"
	       "  --max-median PCT  exit 1 if the median |error| exceeds PCT\n"
	       "  --max-unsafe N    exit 1 if more than N rows are unsafe\n",
	       VF_DEFAULT_CALIBRATION);
}

static void print_summary(const char *label, const vf_accuracy *a)
{
	printf("%-22s %6zu %8.1f%% %8.1f%% %8.1f%% %+8.1f%% %7zu\n", label,
	       a->scored, a->median_abs_pct, a->p90_abs_pct, a->max_abs_pct,
	       a->bias_pct, a->unsafe);
}

static void json_summary(const char *key, const vf_accuracy *a, bool comma)
{
	printf("\"%s\":{\"scored\":%zu,\"median_abs_pct\":%.3f,"
	       "\"p90_abs_pct\":%.3f,\"max_abs_pct\":%.3f,\"bias_pct\":%.3f,"
	       "\"unsafe\":%zu,\"oom_checked\":%zu}%s",
	       key, a->scored, a->median_abs_pct, a->p90_abs_pct,
	       a->max_abs_pct, a->bias_pct, a->unsafe, a->oom_checked,
	       comma ? "," : "");
}

/* Distinct values of a row field, in first-seen order. */
static size_t distinct(const vf_validation *v, size_t off, const char **out,
		       size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < v->n; i++) {
		const char *s = (const char *)&v->rows[i] + off;
		bool seen = false;
		for (size_t j = 0; j < n; j++)
			seen |= strcmp(out[j], s) == 0;
		if (!seen && n < max && *s)
			out[n++] = s;
	}
	return n;
}

static void json_string_out(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, 0, 'j'},
		{"all", no_argument, 0, 'a'},
		{"max-median", required_argument, 0, 'm'},
		{"max-unsafe", required_argument, 0, 'u'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	bool json = false, all = false;
	double max_median = -1;
	uint32_t max_unsafe = UINT32_MAX;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'a': all = true; break;
		case 'm':
			if (!cli_parse_double("--max-median", optarg, 0, 1000,
					      &max_median))
				return EXIT_USAGE;
			break;
		case 'u':
			if (!cli_parse_u32("--max-unsafe", optarg, 0, 1000000,
					   &max_unsafe))
				return EXIT_USAGE;
			break;
		case 'h': help(); return EXIT_OK;
		default:
			return cli_usage_error("validate: unknown option \"%s\"",
					       argv[optind - 1]);
		}
	}
	vf_validation v = {0};
	vf_error err;
	const char *def = VF_DEFAULT_CALIBRATION;
	int nfiles = argc - optind;
	for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
		const char *path = nfiles ? argv[optind + i] : def;
		if (vf_validation_load(&v, path, 1024ull << 20, &err)) {
			vf_validation_free(&v);
			return cli_report(&err);
		}
	}
	vf_accuracy total;
	vf_validation_summary(&v, NULL, NULL, &total);
	const char *fws[32], *methods[32];
	size_t nfw = distinct(&v, offsetof(vf_validation_row, framework), fws, 32);
	size_t nme = distinct(&v, offsetof(vf_validation_row, method), methods, 32);

	if (json) {
		printf("{\"rows\":[");
		for (size_t i = 0; i < v.n; i++) {
			const vf_validation_row *r = &v.rows[i];
			printf("%s{\"id\":", i ? "," : "");
			json_string_out(r->id);
			printf(",\"model\":");
			json_string_out(r->model);
			printf(",\"framework\":\"%s\",\"method\":\"%s\","
			       "\"metric\":\"%s\",\"scored\":%s,\"oom\":%s,"
			       "\"unsafe\":%s,",
			       r->framework, r->method, r->metric,
			       r->scored ? "true" : "false",
			       r->oom ? "true" : "false",
			       r->unsafe ? "true" : "false");
			if (r->reason[0]) {
				printf("\"reason\":");
				json_string_out(r->reason);
				putchar(',');
			}
			printf("\"measured_bytes\":%llu,\"predicted_bytes\":%llu,"
			       "\"allocated_bytes\":%llu,\"reserved_bytes\":%llu,"
			       "\"process_bytes\":%llu,\"error_pct\":%.3f}",
			       (unsigned long long)r->measured_bytes,
			       (unsigned long long)r->predicted_bytes,
			       (unsigned long long)r->allocated_bytes,
			       (unsigned long long)r->reserved_bytes,
			       (unsigned long long)r->process_bytes, r->error_pct);
		}
		printf("],\"summary\":{");
		json_summary("all", &total, true);
		printf("\"by_framework\":{");
		for (size_t i = 0; i < nfw; i++) {
			vf_accuracy a;
			vf_validation_summary(&v, fws[i], NULL, &a);
			json_summary(fws[i], &a, i + 1 < nfw);
		}
		printf("},\"by_method\":{");
		for (size_t i = 0; i < nme; i++) {
			vf_accuracy a;
			vf_validation_summary(&v, NULL, methods[i], &a);
			json_summary(methods[i], &a, i + 1 < nme);
		}
		printf("}}}\n");
	} else {
		char m[32], p[32];
		printf("%-44s %-28s %-7s %-9s %10s %10s %8s\n", "ID", "MODEL",
		       "METHOD", "METRIC", "MEASURED", "PREDICTED", "ERROR");
		for (size_t i = 0; i < v.n; i++) {
			const vf_validation_row *r = &v.rows[i];
			if (!r->scored && !r->oom && !all)
				continue;
			vf_format_bytes(r->measured_bytes, m, sizeof m);
			vf_format_bytes(r->predicted_bytes, p, sizeof p);
			printf("%-44.44s %-28.28s %-7.7s %-9.9s %10s %10s ", r->id,
			       r->model, r->method, r->metric, m,
			       r->predicted_bytes ? p : "-");
			if (r->scored)
				printf("%+7.1f%%%s\n", r->error_pct,
				       r->unsafe ? "  UNSAFE" : "");
			else
				printf("%8s  %s%s\n", "-", r->reason,
				       r->unsafe ? "  UNSAFE" : "");
		}
		printf("\n%-22s %6s %9s %9s %9s %9s %7s\n", "SUMMARY", "ROWS",
		       "MEDIAN", "P90", "MAX", "BIAS", "UNSAFE");
		print_summary("all", &total);
		for (size_t i = 0; i < nfw; i++) {
			vf_accuracy a;
			vf_validation_summary(&v, fws[i], NULL, &a);
			if (a.scored || a.oom_checked) {
				char label[40];
				snprintf(label, sizeof label, "framework %s", fws[i]);
				print_summary(label, &a);
			}
		}
		for (size_t i = 0; i < nme; i++) {
			vf_accuracy a;
			vf_validation_summary(&v, NULL, methods[i], &a);
			if (a.scored || a.oom_checked) {
				char label[40];
				snprintf(label, sizeof label, "method %s", methods[i]);
				print_summary(label, &a);
			}
		}
		size_t unscored = 0;
		for (size_t i = 0; i < v.n; i++)
			unscored += !v.rows[i].scored && !v.rows[i].oom;
		printf("\n%zu rows read, %zu scored, %zu OOM rows checked, %zu "
		       "not scored%s.\n",
		       v.n, total.scored, total.oom_checked, unscored,
		       all ? "" : " (--all lists them)");
	}
	int rc = EXIT_OK;
	if (max_median >= 0 && total.median_abs_pct > max_median) {
		fprintf(stderr, "vramfit: median |error| %.3f%% exceeds %.3f%%\n",
			total.median_abs_pct, max_median);
		rc = EXIT_DOES_NOT_FIT;
	}
	if (max_unsafe != UINT32_MAX && total.unsafe > max_unsafe) {
		fprintf(stderr, "vramfit: %zu unsafe rows, more than %u\n",
			total.unsafe, max_unsafe);
		rc = EXIT_DOES_NOT_FIT;
	}
	vf_validation_free(&v);
	return rc;
}
