/*
 * test_validate.c - vf_validation_load on rows written here around the
 * library's own prediction for a run, so the expected errors, medians and
 * unsafe flags follow from arithmetic in the test; rows that cannot be
 * interpreted are listed with a reason, never dropped; and the shipped
 * calibration data loads whole.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "vramfit.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static const char RUN[] =
	"{\"model\": \"meta-llama/Llama-3.2-1B\", \"method\": \"lora\", "
	"\"precision\": \"bf16-true\", \"micro_batch\": 2, \"seq_len\": 1024, "
	"\"grad_ckpt\": true, \"framework\": {\"name\": \"peft\"}}";

static uint64_t predicted_allocated(void)
{
	vf_model m;
	vf_run r;
	vf_estimate e;
	vf_error err;
	char model[128];
	assert_int_equal(vf_run_from_json(&r, model, sizeof model, RUN,
					  strlen(RUN), &err), VF_OK);
	assert_int_equal(vf_builtin_model(&m, model, &err), VF_OK);
	assert_int_equal(vf_estimate_run(&m, &r, &e, &err), VF_OK);
	return e.peak_allocated;
}

static void row(FILE *f, const char *id, const char *run, const char *metric,
		uint64_t bytes, bool oom)
{
	fprintf(f, "{\"id\": \"%s\", \"source\": \"test\", \"quote\": \"\", "
		   "\"measured_run\": true, \"trust\": \"high\", \"suspect\": false, "
		   "\"run\": %s, \"measured\": {\"metric\": \"%s\", \"bytes\": %llu, "
		   "\"oom\": %s}}\n",
		id, run, metric, (unsigned long long)bytes, oom ? "true" : "false");
}

static const vf_validation_row *find(const vf_validation *v, const char *id)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->rows[i].id, id) == 0)
			return &v->rows[i];
	fail_msg("row %s missing", id);
	return NULL;
}

static void errors_and_summary(void **state)
{
	(void)state;
	uint64_t p = predicted_allocated();
	const char *path = cli_temp_file("rows.jsonl", "");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	/* prediction 10 % above, 5 % below, 20 % below the measurement */
	row(f, "over10", RUN, "allocated", (uint64_t)((double)p / 1.10), false);
	row(f, "under5", RUN, "allocated", (uint64_t)((double)p / 0.95), false);
	row(f, "under20", RUN, "allocated", (uint64_t)((double)p / 0.80), false);
	/* a run that ran out of memory on 1 GiB: predicted not to fit */
	row(f, "oom", RUN, "process", 1 * GiB, true);
	row(f, "unknown", "{\"model\": \"acme/NoSuchModel-7B\", \"method\": \"lora\"}",
	    "allocated", 10 * GiB, false);
	row(f, "encoder", "{\"model\": \"google-bert/bert-base-uncased\", "
			  "\"method\": \"full\"}", "allocated", 10 * GiB, false);
	fputs("{\"id\": \"broken\", \"run\": \n", f);
	fclose(f);

	vf_validation v = {0};
	vf_error err;
	assert_int_equal(vf_validation_load(&v, path, 1024 * MiB, &err), VF_OK);
	assert_int_equal(v.n, 7); /* every line is a row, even the broken one */

	const vf_validation_row *r = find(&v, "over10");
	assert_true(r->scored);
	assert_int_equal(r->predicted_bytes, p);
	assert_true(fabs(r->error_pct - 10.0) < 0.01);
	r = find(&v, "under5");
	assert_true(fabs(r->error_pct + 5.0) < 0.01);
	/* under by 5 %: still within the 1024 MiB margin of a few GiB run? */
	assert_int_equal(r->unsafe, p + 1024 * MiB < r->measured_bytes);
	r = find(&v, "under20");
	assert_int_equal(r->unsafe, p + 1024 * MiB < r->measured_bytes);
	r = find(&v, "oom");
	assert_true(r->oom);
	assert_false(r->unsafe); /* predicted above 1 GiB: does not fit */
	assert_false(find(&v, "unknown")->scored);
	assert_string_equal(find(&v, "unknown")->reason, "unknown model");
	assert_false(find(&v, "encoder")->scored);
	/* the broken line cannot name itself: it is listed as file:line */
	char broken[600];
	snprintf(broken, sizeof broken, "%s:7", path);
	assert_false(find(&v, broken)->scored);
	assert_non_null(strstr(find(&v, broken)->reason, "not a JSON object"));

	vf_accuracy acc;
	vf_validation_summary(&v, NULL, NULL, &acc);
	assert_int_equal(acc.scored, 3);
	assert_true(fabs(acc.median_abs_pct - 10.0) < 0.01);
	assert_true(fabs(acc.max_abs_pct - 20.0) < 0.01);
	assert_true(fabs(acc.bias_pct - (10.0 - 5.0 - 20.0) / 3) < 0.01);
	assert_int_equal(acc.oom_checked, 1);
	vf_validation_summary(&v, "litgpt", NULL, &acc);
	assert_int_equal(acc.scored, 0);
	vf_validation_free(&v);
}

static void shipped_calibration_data(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/data/calibration/runs.v1.jsonl",
		 getenv("VF_SOURCE_DIR"));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t lines = 0;
	for (int c; (c = fgetc(f)) != EOF;)
		lines += c == '\n';
	fclose(f);
	vf_validation v = {0};
	vf_error err;
	assert_int_equal(vf_validation_load(&v, path, 1024 * MiB, &err), VF_OK);
	assert_int_equal(v.n, lines);
	vf_accuracy acc;
	vf_validation_summary(&v, NULL, NULL, &acc);
	assert_true(acc.scored >= 80);
	for (size_t i = 0; i < v.n; i++)
		if (v.rows[i].scored)
			assert_true(isfinite(v.rows[i].error_pct));
	vf_validation_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors_and_summary),
		cmocka_unit_test(shipped_calibration_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
