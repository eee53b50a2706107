/*
 * test_cli.c - the estimate/models/validate commands as a user meets them:
 * every bad value gets exactly one line on stderr naming the flag or file
 * and exit status 2; the tables say what the library computed; --json has
 * the documented fields; --help and --version behave.
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

#include "cli_run.h"
#include "vramfit.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* One bad input: the words its single stderr line must contain. */
typedef struct bad_case {
	const char *const *args;
	const char *mentions;
} bad_case;

static void expect_usage_error(const char *const *args, const char *mentions)
{
	cli_result r = cli_run(args);
	if (r.status != 2 || cli_count_lines(r.err) != 1 ||
	    strncmp(r.err, "vramfit: ", 9) != 0 || !strstr(r.err, mentions) ||
	    r.out[0] != '\0')
		fail_msg("args starting \"%s %s\": status %d, stderr \"%s\", "
			 "stdout \"%.80s\" (wanted status 2, one line naming "
			 "\"%s\")",
			 args[0], args[1] ? args[1] : "", r.status, r.err,
			 r.out, mentions);
	cli_result_free(&r);
}

static void bad_flags(void **state)
{
	(void)state;
	const char *M = "meta-llama/Llama-2-7b-hf";
	const bad_case cases[] = {
		{ARGS("estimate", "--model", M, "--batch", "0"), "--batch"},
		{ARGS("estimate", "--model", M, "--batch", "-1"), "--batch"},
		{ARGS("estimate", "--model", M, "--batch", "abc"), "--batch"},
		{ARGS("estimate", "--model", M, "--batch", "1e3"), "--batch"},
		{ARGS("estimate", "--model", M, "--seq", "0"), "--seq"},
		{ARGS("estimate", "--model", M, "--seq", "1000000"), "--seq"},
		{ARGS("estimate", "--model", M, "--grad-accum", "0"), "--grad-accum"},
		{ARGS("estimate", "--model", M, "--gpus", "4096"), "--gpus"},
		{ARGS("estimate", "--model", M, "--lora-r", "5000",
		      "--method", "lora"), "--lora-r"},
		{ARGS("estimate", "--model", M, "--lora-dropout", "1.5"),
		 "--lora-dropout"},
		{ARGS("estimate", "--model", M, "--method", "magic"), "--method"},
		{ARGS("estimate", "--model", M, "--optim", "adamx"), "--optim"},
		{ARGS("estimate", "--model", M, "--quant", "nf3"), "--quant"},
		{ARGS("estimate", "--model", M, "--vram", "lots"), "--vram"},
		{ARGS("estimate", "--model", M, "--vram", "-6"), "--vram"},
		{ARGS("estimate", "--model", M, "--vram", "0"), "--vram"},
		{ARGS("estimate", "--model", M, "--vram", "nan"), "--vram"},
		{ARGS("estimate", "--model", M, "--vram", "1", "--safety-margin",
		      "2048"), "margin"},
		{ARGS("estimate", "--model", M, "--safety-margin", "x"),
		 "--safety-margin"},
		{ARGS("estimate", "--model", "no/such-model"), "unknown model"},
		{ARGS("estimate", "--model", M, "--frobnicate"), "--frobnicate"},
		{ARGS("estimate", "--model", M, "--versions", "deepspeed=0.14"),
		 "deepspeed"},
		{ARGS("estimate", "--model", M, "--versions", "trl=main"),
		 "--versions"},
		{ARGS("estimate"), "--model"},
		{ARGS("estimate", "--model", M, "extra"), "extra"},
		{ARGS("estimate", "--run", "/nonexistent/run.json"), "run.json"},
		/* a 1T-parameter model given by its dimensions */
		{ARGS("estimate", "--hidden", "65536", "--layers", "1000",
		      "--heads", "512", "--vocab", "50000"), "parameters"},
		{ARGS("estimate", "--hidden", "2048", "--layers", "20",
		      "--heads", "30", "--vocab", "50000"), "heads"},
		{ARGS("frobnicate"), "frobnicate"},
		{ARGS("validate", "/nonexistent/runs.jsonl"), "runs.jsonl"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_usage_error(cases[i].args, cases[i].mentions);
}

static void bad_files(void **state)
{
	(void)state;
	/* malformed config.json: the message names the file */
	const char *cfg = cli_temp_file("broken-config.json",
					"{\"model_type\": \"llama\", \"hidden_size\": ");
	expect_usage_error(ARGS("estimate", "--model", cfg), "broken-config.json");
	cfg = cli_temp_file("negative-config.json",
			    "{\"model_type\": \"llama\", \"hidden_size\": -4096,"
			    " \"num_hidden_layers\": 32, \"num_attention_heads\": 32,"
			    " \"intermediate_size\": 11008, \"vocab_size\": 32000}");
	expect_usage_error(ARGS("estimate", "--model", cfg), "hidden_size");
	const char *run = cli_temp_file("typo-run.json",
					"{\"model\": \"meta-llama/Llama-2-7b-hf\","
					" \"micro_batchh\": 4}");
	expect_usage_error(ARGS("estimate", "--run", run), "micro_batchh");
	run = cli_temp_file("bad-run.json", "{\"model\": \"meta-llama/Llama-2-7b-hf\","
					    " \"seq_len\": 0}");
	expect_usage_error(ARGS("estimate", "--run", run), "seq_len");
}

/* The human table prints what the library computes for the same run. */
static void table_matches_library(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS("estimate", "--model",
				    "meta-llama/Llama-2-7b-hf", "--method", "qlora",
				    "--quant", "nf4-dq", "--lora-r", "16", "--seq",
				    "2048", "--batch", "1", "--grad-accum", "16",
				    "--grad-ckpt", "--optim", "paged-adamw-8bit",
				    "--vram", "6"));
	vf_model m;
	vf_run run;
	vf_estimate e;
	vf_error err;
	assert_int_equal(vf_builtin_model(&m, "meta-llama/Llama-2-7b-hf", &err), VF_OK);
	vf_run_init(&run);
	run.method = VF_METHOD_QLORA;
	run.quant = VF_QUANT_NF4_DQ;
	run.lora.r = 16;
	run.seq_len = 2048;
	run.micro_batch = 1;
	run.grad_accum = 16;
	run.grad_ckpt = VF_CKPT_ON;
	run.optimizer = VF_OPTIM_PAGED_ADAMW_8BIT;
	assert_int_equal(vf_estimate_run(&m, &run, &e, &err), VF_OK);

	char want[128], b[32];
	/* the published exact count of Llama-2-7b */
	assert_non_null(strstr(r.out, "6,738,415,616 parameters"));
	snprintf(want, sizeof want, "peak allocated %s",
		 vf_format_bytes(e.peak_allocated, b, sizeof b));
	/* columns are padded: compare with the spaces squeezed out */
	char squeezed[8192];
	size_t n = 0;
	for (const char *p = r.out; *p && n + 1 < sizeof squeezed; p++)
		if (!(*p == ' ' && n && squeezed[n - 1] == ' '))
			squeezed[n++] = *p;
	squeezed[n] = '\0';
	assert_non_null(strstr(squeezed, want));
	snprintf(want, sizeof want, "process (nvidia-smi) %s",
		 vf_format_bytes(e.peak_process, b, sizeof b));
	assert_non_null(strstr(squeezed, want));
	snprintf(want, sizeof want, "The peak is in the %s phase",
		 vf_phase_name(e.peak_phase));
	assert_non_null(strstr(r.out, want));
	bool fits = e.peak_process <= 6ull * 1024 * 1024 * 1024 - (1024ull << 20);
	assert_non_null(strstr(r.out, fits ? "FITS" : "DOES NOT FIT"));
	assert_int_equal(r.status, fits ? 0 : 1);
	/* colour only on a terminal: stdout is a file here */
	assert_null(strchr(r.out, '\033'));
	cli_result_free(&r);
}

static json_int_t get_int(json_t *root, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(root, a), b);
	if (!json_is_integer(v))
		fail_msg("%s.%s missing or not an integer", a, b);
	return json_integer_value(v);
}

static void json_fields(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS("estimate", "--model", "llama-3.2-1b",
				    "--method", "full", "--batch", "2", "--seq",
				    "1024", "--vram", "24gb", "--json"));
	json_error_t jerr;
	json_t *root = json_loads(r.out, 0, &jerr);
	if (!root)
		fail_msg("not JSON: %s", jerr.text);
	assert_int_equal(get_int(root, "model", "parameters"), 1235814400);
	json_t *src = json_object_get(json_object_get(root, "model"), "source");
	assert_string_equal(json_string_value(json_object_get(src, "kind")),
			    "builtin");
	json_int_t alloc = get_int(root, "peak", "allocated_bytes");
	json_int_t res = get_int(root, "peak", "reserved_bytes");
	json_int_t proc = get_int(root, "peak", "process_bytes");
	assert_true(alloc > 0 && alloc <= res && res <= proc);
	assert_true(json_is_string(json_object_get(json_object_get(root, "peak"),
						   "phase")));
	/* every component, and they are the parts of the process peak */
	json_t *comp = json_object_get(root, "components_bytes");
	json_int_t sum = 0;
	for (int i = 0; i < VF_COMP_COUNT; i++) {
		json_t *v = json_object_get(comp, vf_component_name((vf_component)i));
		assert_true(json_is_integer(v));
		sum += json_integer_value(v);
	}
	assert_int_equal(sum, proc);
	/* the verdict: 24 GiB minus the default 1024 MiB margin */
	assert_int_equal(get_int(root, "verdict", "budget_bytes"),
			 24ll * 1024 * 1024 * 1024 - (1024ll << 20));
	assert_int_equal(get_int(root, "verdict", "headroom_bytes"),
			 get_int(root, "verdict", "budget_bytes") - proc);
	assert_int_equal(r.status,
			 json_is_true(json_object_get(json_object_get(root, "verdict"),
						      "fits")) ? 0 : 1);

	/* the run object reproduces the estimate through --run */
	char *text = json_dumps(root, 0);
	const char *path = cli_temp_file("estimate.json", text);
	free(text);
	cli_result again = cli_run(ARGS("estimate", "--run", path, "--json"));
	json_t *root2 = json_loads(again.out, 0, &jerr);
	assert_non_null(root2);
	assert_int_equal(get_int(root2, "peak", "process_bytes"), proc);
	json_decref(root2);
	json_decref(root);
	cli_result_free(&again);
	cli_result_free(&r);

	/* a config.json path and a model given by its dimensions */
	const char *cfg = cli_temp_file("tiny-config.json",
		"{\"model_type\": \"llama\", \"vocab_size\": 1000, "
		"\"hidden_size\": 256, \"intermediate_size\": 512, "
		"\"num_hidden_layers\": 2, \"num_attention_heads\": 4}");
	r = cli_run(ARGS("estimate", "--model", cfg, "--json"));
	root = json_loads(r.out, 0, &jerr);
	assert_non_null(root);
	json_t *s2 = json_object_get(json_object_get(root, "model"), "source");
	assert_string_equal(json_string_value(json_object_get(s2, "kind")), "config");
	assert_non_null(strstr(json_string_value(json_object_get(s2, "location")),
			       "tiny-config.json"));
	json_decref(root);
	cli_result_free(&r);
	r = cli_run(ARGS("estimate", "--hidden", "256", "--layers", "2", "--heads",
			 "4", "--vocab", "1000", "--json"));
	root = json_loads(r.out, 0, &jerr);
	assert_non_null(root);
	s2 = json_object_get(json_object_get(root, "model"), "source");
	assert_string_equal(json_string_value(json_object_get(s2, "kind")),
			    "dimensions");
	json_decref(root);
	cli_result_free(&r);
}

static void help_and_version(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS("--version"));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, vf_version()));
	cli_result_free(&r);
	const char *const commands[] = {"estimate", "models", "validate", "gpus",
					"monitor", "run", "plan", "sweep",
					"check"};
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		r = cli_run(ARGS(commands[i], "--help"));
		if (r.status != 0 || !strstr(r.out, "usage: vramfit"))
			fail_msg("%s --help: status %d", commands[i], r.status);
		cli_result_free(&r);
	}
	r = cli_run(ARGS("--help"));
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		assert_non_null(strstr(r.out, commands[i]));
	cli_result_free(&r);
	/* --vram help says how each unit is read */
	r = cli_run(ARGS("estimate", "--help"));
	assert_non_null(strstr(r.out, "MiB"));
	assert_non_null(strstr(r.out, "GiB"));
	cli_result_free(&r);
}

static void models_lists_builtins(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS("models"));
	assert_int_equal(r.status, 0);
	assert_true(vf_builtin_model_count() >= 40);
	for (size_t i = 0; i < vf_builtin_model_count(); i++)
		if (!strstr(r.out, vf_builtin_model_name(i)))
			fail_msg("models does not list %s", vf_builtin_model_name(i));
	assert_non_null(strstr(r.out, "6,738,415,616"));
	cli_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_flags),
		cmocka_unit_test(bad_files),
		cmocka_unit_test(table_matches_library),
		cmocka_unit_test(json_fields),
		cmocka_unit_test(help_and_version),
		cmocka_unit_test(models_lists_builtins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
