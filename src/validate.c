/*
 * validate.c - predict every row of a calibration file and compare like
 * with like (docs/run-schema.md "Comparing a prediction with a row").
 */
#include "internal.h"

#include <errno.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encoder and encoder-decoder families vramfit does not model yet. */
static const char *const encoder_prefixes[] = {
	"google-bert/", "bert-", "distilbert/", "roberta", "google/flan-t5",
	"t5-", "google-t5/", "bigscience/T0", "bigscience/mt0", NULL};
/* Decoder families without a config reader yet. */
static const char *const unsupported_decoders[] = {"bigscience/bloom", NULL};

static bool has_prefix(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strncmp(s, *list, strlen(*list)) == 0)
			return true;
	return false;
}

static vf_validation_row *new_row(vf_validation *v, vf_error *err)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		vf_validation_row *rows = realloc(v->rows, cap * sizeof *rows);
		if (!rows) {
			vf_fail(err, VF_ENOMEM, "out of memory");
			return NULL;
		}
		v->rows = rows;
		v->cap = cap;
	}
	vf_validation_row *r = &v->rows[v->n++];
	memset(r, 0, sizeof *r);
	return r;
}

static void copy_str(char *dst, size_t size, json_t *v)
{
	const char *s = json_string_value(v);
	vf_strlcpy(dst, s ? s : "", size);
}

static uint64_t predicted_for(const vf_estimate *e, const char *metric)
{
	if (strcmp(metric, "reserved") == 0 ||
	    strcmp(metric, "reserved-minus-init") == 0)
		return e->peak_reserved;
	if (strcmp(metric, "process") == 0)
		return e->peak_process;
	return e->peak_allocated;
}

static void score_row(vf_validation_row *row, json_t *obj, uint64_t margin)
{
	json_t *run = json_object_get(obj, "run");
	json_t *meas = json_object_get(obj, "measured");
	copy_str(row->id, sizeof row->id, json_object_get(obj, "id"));
	copy_str(row->model, sizeof row->model, json_object_get(run, "model"));
	copy_str(row->method, sizeof row->method, json_object_get(run, "method"));
	copy_str(row->framework, sizeof row->framework,
		 json_object_get(json_object_get(run, "framework"), "name"));
	copy_str(row->metric, sizeof row->metric,
		 json_object_get(meas, "metric"));
	copy_str(row->trust, sizeof row->trust, json_object_get(obj, "trust"));
	json_t *bytes = json_object_get(meas, "bytes");
	row->measured_bytes = json_is_integer(bytes) && json_integer_value(bytes) > 0
				      ? (uint64_t)json_integer_value(bytes)
				      : 0;
	row->oom = json_is_true(json_object_get(meas, "oom"));

	static const char *const strict_metrics[] = {
		"allocated", "active", "reserved", "process",
		"reserved-minus-init", NULL};
	bool strict_metric = false;
	for (const char *const *m = strict_metrics; *m; m++)
		if (strcmp(row->metric, *m) == 0)
			strict_metric = true;
	const char *skip = NULL;
	if (!json_is_true(json_object_get(obj, "measured_run")))
		skip = "not a measurement";
	else if (json_is_true(json_object_get(obj, "suspect")))
		skip = "marked suspect";
	else if (!row->measured_bytes)
		skip = "no single measured value";
	else if (!strict_metric && !row->oom)
		skip = "metric not comparable";

	if (has_prefix(encoder_prefixes, row->model) ||
	    has_prefix(unsupported_decoders, row->model)) {
		row->scored = false;
		vf_strlcpy(row->reason, "architecture not supported",
			   sizeof row->reason);
		return;
	}
	vf_model model;
	vf_error err = {0};
	if (vf_builtin_model(&model, row->model, &err)) {
		vf_strlcpy(row->reason, "unknown model", sizeof row->reason);
		return;
	}
	vf_run r;
	vf_status st = vf_run_from_json_value(&r, NULL, 0, run, &err);
	vf_estimate e;
	if (!st)
		st = vf_estimate_run(&model, &r, &e, &err);
	if (st) {
		vf_strlcpy(row->reason, err.message, sizeof row->reason);
		return;
	}
	row->allocated_bytes = e.peak_allocated;
	row->reserved_bytes = e.peak_reserved;
	row->process_bytes = e.peak_process;
	if (row->oom) {
		/* A lower bound: the run needed more than the device had. */
		row->predicted_bytes = e.peak_process;
		row->unsafe = e.peak_process < row->measured_bytes;
		vf_strlcpy(row->reason,
			   row->unsafe ? "OOM run predicted to fit"
				       : "OOM lower bound respected",
			   sizeof row->reason);
		return;
	}
	row->predicted_bytes = predicted_for(&e, row->metric);
	if (row->measured_bytes)
		row->error_pct = ((double)row->predicted_bytes -
				  (double)row->measured_bytes) /
				 (double)row->measured_bytes * 100.0;
	if (skip) {
		vf_strlcpy(row->reason, skip, sizeof row->reason);
		return;
	}
	row->scored = true;
	row->unsafe = row->predicted_bytes + margin < row->measured_bytes;
	if (strcmp(row->metric, "reserved-minus-init") == 0)
		vf_strlcpy(row->reason,
			   "compared with peak reserved (init reading taken "
			   "as 0)",
			   sizeof row->reason);
}

vf_status vf_validation_load(vf_validation *v, const char *path,
			     uint64_t margin, vf_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return vf_fail(err, errno == ENOENT ? VF_ENOTFOUND : VF_EIO,
			       "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	vf_status st = VF_OK;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (len == 1 && line[0] == '\n')
			continue;
		vf_validation_row *row = new_row(v, err);
		if (!row) {
			st = VF_ENOMEM;
			break;
		}
		json_error_t jerr;
		json_t *obj = json_loadb(line, (size_t)len, 0, &jerr);
		if (!obj || !json_is_object(obj)) {
			snprintf(row->id, sizeof row->id, "%s:%u", path, lineno);
			snprintf(row->reason, sizeof row->reason,
				 "not a JSON object: %s",
				 obj ? "wrong type" : jerr.text);
			json_decref(obj);
			continue;
		}
		score_row(row, obj, margin);
		json_decref(obj);
	}
	free(line);
	fclose(f);
	return st;
}

void vf_validation_free(vf_validation *v)
{
	free(v->rows);
	memset(v, 0, sizeof *v);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *x, size_t n, double q)
{
	if (!n)
		return 0;
	size_t k = (size_t)ceil(q * (double)n);
	return x[k ? k - 1 : 0];
}

void vf_validation_summary(const vf_validation *v, const char *fw,
			   const char *method, vf_accuracy *out)
{
	memset(out, 0, sizeof *out);
	double *abs_err = malloc((v->n ? v->n : 1) * sizeof *abs_err);
	if (!abs_err)
		return;
	double sum = 0;
	for (size_t i = 0; i < v->n; i++) {
		const vf_validation_row *r = &v->rows[i];
		if ((fw && strcmp(r->framework, fw)) ||
		    (method && strcmp(r->method, method)))
			continue;
		if (r->oom && r->predicted_bytes) {
			out->oom_checked++;
			out->unsafe += r->unsafe;
		}
		if (!r->scored)
			continue;
		abs_err[out->scored++] = fabs(r->error_pct);
		sum += r->error_pct;
		out->unsafe += r->unsafe;
	}
	qsort(abs_err, out->scored, sizeof *abs_err, cmp_double);
	if (out->scored) {
		/* median: mean of the middle two for even counts */
		size_t n = out->scored;
		out->median_abs_pct = n % 2 ? abs_err[n / 2]
					    : (abs_err[n / 2 - 1] + abs_err[n / 2]) / 2;
		out->p90_abs_pct = percentile(abs_err, n, 0.9);
		out->max_abs_pct = abs_err[n - 1];
		out->bias_pct = sum / (double)n;
	}
	free(abs_err);
}
