/*
 * test_plan_cli.c - `vramfit plan` as a user runs it: --json fields,
 * --emit files that parse back and carry the chosen values, never an
 * overwrite without --force, and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_run.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define QLORA_4050 "plan", "--model", "meta-llama/Llama-2-7b-hf", "--method", \
	"qlora", "--lora-r", "16", "--gpu", "rtx4050-laptop", "--max-seq", "2048"

static json_t *jget(json_t *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save, *k = strtok_r(buf, ".", &save); k && o;
	     k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	if (!o)
		fail_msg("missing %s", path);
	return o;
}

static void json_result(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS(QLORA_4050, "--json"));
	assert_int_equal(r.status, 0);
	json_error_t jerr;
	json_t *o = json_loads(r.out, 0, &jerr);
	if (!o)
		fail_msg("not JSON: %s", jerr.text);
	assert_true(json_integer_value(jget(o, "evaluated_configs")) > 0);
	/* 6141 MiB as nvidia-smi shows an RTX 4050 Laptop, minus 1024 MiB */
	assert_int_equal(json_integer_value(jget(o, "budget_bytes")),
			 (6141ll - 1024) << 20);
	json_int_t proc = json_integer_value(jget(o, "chosen.peak.process_bytes"));
	assert_true(proc > 0 && proc <= (6141ll - 1024) << 20);
	assert_true(json_integer_value(jget(o, "chosen.peak.allocated_bytes")) <=
		    json_integer_value(jget(o, "chosen.peak.reserved_bytes")));
	assert_true(json_real_value(jget(o, "chosen.tokens_per_second")) > 0);
	assert_string_equal(json_string_value(jget(o, "chosen.run.method")), "qlora");
	json_t *alts = jget(o, "alternatives");
	for (size_t i = 0; i < json_array_size(alts); i++)
		assert_true(json_is_string(json_object_get(json_array_get(alts, i),
							   "reason")));

	/* estimate --run reproduces the chosen peak */
	char *text = json_dumps(o, 0);
	const char *path = cli_temp_file("plan.json", text);
	free(text);
	cli_result e = cli_run(ARGS("estimate", "--run", path, "--json"));
	json_t *eo = json_loads(e.out, 0, &jerr);
	assert_non_null(eo);
	assert_int_equal(json_integer_value(jget(eo, "peak.process_bytes")), proc);
	json_decref(eo);
	cli_result_free(&e);
	json_decref(o);
	cli_result_free(&r);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void emit_files(void **state)
{
	(void)state;
	char ds[512], hf[512], ax[512], spec[600], spec2[600], spec3[600];
	snprintf(ds, sizeof ds, "%s", cli_temp_file("ds.json", ""));
	unlink(ds);
	snprintf(hf, sizeof hf, "%s", cli_temp_file("hf.yaml", ""));
	unlink(hf);
	snprintf(ax, sizeof ax, "%s", cli_temp_file("axolotl.yaml", ""));
	unlink(ax);
	snprintf(spec, sizeof spec, "deepspeed:%s", ds);
	snprintf(spec2, sizeof spec2, "hf:%s", hf);
	snprintf(spec3, sizeof spec3, "axolotl:%s", ax);
	cli_result r = cli_run(ARGS(QLORA_4050, "--emit", spec, "--emit", spec2,
				    "--emit", spec3, "--json"));
	assert_int_equal(r.status, 0);
	json_t *plan = json_loads(r.out, 0, NULL);
	assert_non_null(plan);
	json_int_t mb = json_integer_value(jget(plan, "chosen.run.micro_batch"));
	json_int_t seq = json_integer_value(jget(plan, "chosen.run.seq_len"));

	json_error_t jerr;
	json_t *d = json_load_file(ds, 0, &jerr);
	if (!d)
		fail_msg("deepspeed config does not parse: %s", jerr.text);
	assert_int_equal(json_integer_value(jget(d, "train_micro_batch_size_per_gpu")), mb);
	assert_int_equal(json_integer_value(jget(d, "train_micro_batch_size_per_gpu")) *
				 json_integer_value(jget(d, "gradient_accumulation_steps")),
			 16);
	json_decref(d);

	char want[64];
	const char *yaml = slurp(hf);
	snprintf(want, sizeof want, "per_device_train_batch_size: %lld", (long long)mb);
	assert_non_null(strstr(yaml, want));
	snprintf(want, sizeof want, "max_length: %lld", (long long)seq);
	assert_non_null(strstr(yaml, want));
	assert_non_null(strstr(yaml, "load_in_4bit: true"));
	assert_non_null(strstr(yaml, "bnb_4bit_use_double_quant: true"));
	assert_non_null(strstr(yaml, "r: 16"));
	/* the planned bf16 base is loaded in bf16, not autocast over fp32 */
	assert_string_equal(json_string_value(jget(plan, "chosen.run.precision")),
			    "bf16-true");
	assert_non_null(strstr(yaml, "torch_dtype: bfloat16"));
	yaml = slurp(ax);
	assert_non_null(strstr(yaml, "adapter: qlora"));
	snprintf(want, sizeof want, "sequence_len: %lld", (long long)seq);
	assert_non_null(strstr(yaml, want));
	json_decref(plan);
	cli_result_free(&r);

	/* the file exists now: no overwrite without --force */
	cli_result again = cli_run(ARGS(QLORA_4050, "--emit", spec));
	assert_int_equal(again.status, 2);
	assert_non_null(strstr(again.err, "--force"));
	cli_result_free(&again);
	cli_result forced = cli_run(ARGS(QLORA_4050, "--emit", spec, "--force"));
	assert_int_equal(forced.status, 0);
	cli_result_free(&forced);
}

static void bad_input(void **state)
{
	(void)state;
	const char *const *cases[] = {
		ARGS("plan", "--model", "meta-llama/Llama-2-7b-hf"), /* no budget */
		ARGS(QLORA_4050, "--emit", "word"),
		ARGS(QLORA_4050, "--emit", "hf:"),
		ARGS(QLORA_4050, "--prefer", "cheap"),
		ARGS(QLORA_4050, "--effective-batch", "0"),
		ARGS(QLORA_4050, "--min-seq", "4096"),
		ARGS("plan", "--model", "meta-llama/Llama-2-7b-hf", "--gpus",
		     "rtx3090,rtx9999", "--vram", "24"),
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cli_result r = cli_run(cases[i]);
		if (r.status != 2 || cli_count_lines(r.err) != 1 || r.out[0])
			fail_msg("case %zu: status %d, stderr \"%s\"", i, r.status, r.err);
		cli_result_free(&r);
	}
	/* nothing fits: exit 1 and says so */
	cli_result r = cli_run(ARGS("plan", "--model", "meta-llama/Llama-2-70b-hf",
				    "--method", "full", "--gpu", "rtx4050-laptop"));
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "NOTHING FITS"));
	cli_result_free(&r);
}

/* vramfit sweep: one row per value, memory grows with the knob. */
static void sweep_tables(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS("sweep", "--vary", "seq", "--model",
				    "meta-llama/Llama-3.2-1B", "--method", "lora",
				    "--gpu", "rtx3090", "--json"));
	assert_int_equal(r.status, 0);
	json_t *o = json_loads(r.out, 0, NULL);
	assert_non_null(o);
	json_t *rows = jget(o, "rows");
	assert_int_equal(json_array_size(rows), 5); /* 512 ... 8192 */
	json_int_t last = 0;
	for (size_t i = 0; i < json_array_size(rows); i++) {
		json_int_t p = json_integer_value(
			json_object_get(json_array_get(rows, i), "process_bytes"));
		assert_true(p > last);
		last = p;
	}
	json_decref(o);
	cli_result_free(&r);

	r = cli_run(ARGS("sweep", "--vary", "batch", "--model",
			 "meta-llama/Llama-3.2-1B", "--effective-batch", "8", "--csv"));
	assert_int_equal(r.status, 0);
	assert_int_equal(strncmp(r.out, "batch,allocated_bytes", 21), 0);
	assert_int_equal(cli_count_lines(r.out), 1 + 4); /* 1, 2, 4, 8 */
	cli_result_free(&r);

	r = cli_run(ARGS("sweep", "--vary", "size", "--model", "meta-llama/Llama-3.2-1B"));
	assert_int_equal(r.status, 2);
	assert_int_equal(cli_count_lines(r.err), 1);
	cli_result_free(&r);
	r = cli_run(ARGS("sweep", "--vary", "batch", "--values", "3", "--model",
			 "meta-llama/Llama-3.2-1B"));
	assert_int_equal(r.status, 2);
	cli_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sweep_tables),
		cmocka_unit_test(json_result),
		cmocka_unit_test(emit_files),
		cmocka_unit_test(bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
