/*
 * test_check.c - `vramfit check`: training configs read into a run (every
 * mapped key of each format), the lever checklist, the smallest change
 * that fits (re-estimated here, and from the cheapest tier), and the CLI
 * as a user runs it (exit codes, file:line:col errors, unknown keys, and
 * a plan's emitted config checked back to the plan's own peak).
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
#include "vramfit.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define GiB (1024ull * 1024ull * 1024ull)

static char fixture_buf[1024];

static const char *fixture(const char *name)
{
	const char *src = getenv("VF_SOURCE_DIR");
	snprintf(fixture_buf, sizeof fixture_buf, "%s/tests/data/check/%s",
		 src ? src : ".", name);
	return fixture_buf;
}

static vf_train_config *load(const char *name)
{
	vf_train_config *c = malloc(sizeof *c);
	vf_error err;
	assert_non_null(c);
	if (vf_train_config_load(c, fixture(name), VF_CONFIG_AUTO, &err))
		fail_msg("%s: %s", name, err.message);
	return c;
}

static void reads_trl_with_peft_and_bnb(void **state)
{
	(void)state;
	vf_train_config *c = load("trl-qlora-24gb.yaml");
	assert_int_equal(c->format, VF_CONFIG_HF);
	assert_string_equal(c->model, "meta-llama/Llama-2-7b-hf");
	const vf_run *r = &c->run;
	assert_int_equal(r->micro_batch, 2);
	assert_int_equal(r->grad_accum, 8);
	assert_int_equal(r->seq_len, 1024);
	assert_int_equal(r->grad_ckpt, VF_CKPT_ON);
	/* bf16: true over weights loaded in bfloat16: no fp32 master */
	assert_int_equal(r->precision, VF_PRECISION_BF16_TRUE);
	assert_int_equal(r->optimizer, VF_OPTIM_PAGED_ADAMW_8BIT);
	assert_int_equal(r->attention, VF_ATTN_SDPA);
	assert_int_equal(r->method, VF_METHOD_QLORA);
	assert_int_equal(r->quant, VF_QUANT_NF4_DQ);
	assert_int_equal(r->lora.r, 16);
	assert_true(r->lora.alpha == 32.0);
	assert_true(r->lora.dropout == 0.05);
	assert_int_equal(r->lora.targets,
			 VF_TARGET(VF_ROLE_Q) | VF_TARGET(VF_ROLE_V));
	assert_int_equal(c->n_warnings, 0); /* every key known */
	free(c);
}

static void reads_axolotl(void **state)
{
	(void)state;
	vf_train_config *c = load("axolotl-qlora.yaml");
	assert_int_equal(c->format, VF_CONFIG_AXOLOTL);
	assert_string_equal(c->model, "meta-llama/Llama-2-7b-hf");
	const vf_run *r = &c->run;
	assert_int_equal(r->method, VF_METHOD_QLORA);
	assert_int_equal(r->quant, VF_QUANT_NF4_DQ); /* axolotl's default */
	assert_int_equal(r->lora.r, 32);
	assert_int_equal(r->lora.targets, VF_TARGETS_ALL_LINEAR);
	assert_int_equal(r->seq_len, 4096);
	assert_int_equal(r->packing, 1);
	assert_int_equal(r->micro_batch, 2);
	assert_int_equal(r->grad_accum, 4);
	assert_int_equal(r->grad_ckpt, VF_CKPT_ON);
	assert_int_equal(r->precision, VF_PRECISION_BF16_TRUE);
	assert_int_equal(r->optimizer, VF_OPTIM_PAGED_ADAMW_8BIT);
	assert_int_equal(r->attention, VF_ATTN_FLASH2);
	/* datasets are data, not settings */
	assert_int_equal(c->n_warnings, 0);
	free(c);
}

static void reads_deepspeed(void **state)
{
	(void)state;
	vf_train_config *c = load("zero3-offload.json");
	assert_int_equal(c->format, VF_CONFIG_DEEPSPEED);
	assert_string_equal(c->model, "");
	const vf_run *r = &c->run;
	assert_int_equal(r->strategy, VF_STRATEGY_ZERO3);
	assert_int_equal(r->offload, VF_OFFLOAD_OPTIMIZER); /* params: none */
	assert_int_equal(r->micro_batch, 2);
	assert_int_equal(r->grad_accum, 8);
	assert_int_equal(r->reduce_bucket_elems, 500000000u);
	assert_int_equal(r->precision, VF_PRECISION_BF16_TRUE);
	assert_int_equal(c->n_warnings, 0);
	free(c);
}

static void reads_training_args_json(void **state)
{
	(void)state;
	vf_train_config *c = load("training-args.json");
	assert_int_equal(c->format, VF_CONFIG_HF);
	assert_string_equal(c->model, "meta-llama/Llama-3.2-1B");
	/* full fine-tuning, bf16 with no load dtype: Trainer's autocast
	 * over the fp32 weights from_pretrained loads */
	assert_int_equal(c->run.method, VF_METHOD_UNSET);
	assert_int_equal(c->run.precision, VF_PRECISION_BF16_MIXED);
	assert_int_equal(c->run.optimizer, VF_OPTIM_ADAMW_FUSED);
	assert_int_equal(c->run.seq_len, 2048);
	assert_int_equal(c->run.micro_batch, 8);
	assert_int_equal(c->run.grad_ckpt, VF_CKPT_OFF);
	free(c);
}

static void reports_unknown_keys_and_bad_files(void **state)
{
	(void)state;
	vf_train_config *c = load("unknown-keys.yaml");
	assert_int_equal(c->n_warnings, 2);
	assert_non_null(strstr(c->warnings[0], "unknown-keys.yaml:3:1"));
	assert_non_null(strstr(c->warnings[0], "gradient_acumulation_steps"));
	assert_non_null(strstr(c->warnings[1], "flux_capacitor"));
	free(c);

	static const struct {
		const char *file, *mentions;
	} bad[] = {
		{"malformed.yaml", "malformed.yaml:3:"},
		{"malformed.json", "malformed.json:3:"},
		{"wrong-type.yaml", "wrong-type.yaml:2:1"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		vf_train_config cfg;
		vf_error err;
		assert_int_not_equal(vf_train_config_load(&cfg, fixture(bad[i].file),
							  VF_CONFIG_AUTO, &err),
				     VF_OK);
		if (!strstr(err.message, bad[i].mentions))
			fail_msg("%s: \"%s\" does not say %s", bad[i].file,
				 err.message, bad[i].mentions);
	}
	/* an alias is refused with its place, not misread */
	vf_train_config a;
	vf_error aerr;
	const char *alias = "x: &n 2\nper_device_train_batch_size: *n\n";
	assert_int_equal(vf_train_config_parse(&a, "alias.yaml", alias,
					       strlen(alias), VF_CONFIG_AUTO,
					       &aerr),
			 VF_EPARSE);
	assert_non_null(strstr(aerr.message, "alias.yaml:2:"));

	/* any bytes: an error or a run, never a crash */
	static const char *const garbage[] = {
		"", "\x01\x02\xff", "{", "[1, 2", "- - - -", "a: {b: {c: {d: [",
		"per_device_train_batch_size: 99999999999999999999",
		"lora_dropout: nan", "zero_optimization: {stage: 7}",
		"{\"bf16\": {\"enabled\": \"maybe\"}}", ": : :",
		"a: &x 1\nper_device_train_batch_size: *x\nbf16: true\n",
	};
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		vf_train_config cfg;
		vf_error err;
		vf_status st = vf_train_config_parse(&cfg, "garbage", garbage[i],
						     strlen(garbage[i]),
						     VF_CONFIG_AUTO, &err);
		if (st)
			assert_non_null(strstr(err.message, "garbage"));
	}
}

static vf_model llama7b(void)
{
	vf_model m;
	vf_error err;
	assert_int_equal(vf_builtin_model(&m, "meta-llama/Llama-2-7b-hf", &err),
			 VF_OK);
	return m;
}

/* The fix fits by the model, re-estimated here; it comes from the
 * cheapest tier that has one: no lever of a later tier is touched when an
 * earlier one suffices; and the effective batch is kept. */
static void smallest_change_fits(void **state)
{
	(void)state;
	vf_model m = llama7b();
	vf_train_config *c = load("hf-lora-too-big.yaml");
	vf_check *chk = malloc(sizeof *chk);
	vf_error err;
	vf_gpu_spec g;
	assert_int_equal(vf_gpu_spec_find("rtx4090", &g, &err), VF_OK);
	uint64_t budget = g.memory_bytes - (1024ull << 20);
	assert_int_equal(vf_check_run(&m, &c->run, budget, &g, chk, &err), VF_OK);
	assert_false(chk->fits);
	assert_true(chk->have_fix);
	const vf_run *f = &chk->fix_est.run;
	vf_estimate e;
	assert_int_equal(vf_estimate_run(&m, f, &e, &err), VF_OK);
	assert_true(e.peak_process <= budget);
	assert_int_equal(f->micro_batch * f->grad_accum,
			 chk->est.run.micro_batch * chk->est.run.grad_accum);
	assert_int_equal(chk->fix_tier, VF_TIER_SAME_TRAINING);
	for (int i = 0; i < VF_LEVER_COUNT; i++)
		if (chk->fix_levers & (1u << i))
			assert_int_equal(vf_lever_tier_of(i), VF_TIER_SAME_TRAINING);
	assert_int_equal(f->lora.r, 16);
	assert_int_equal(f->seq_len, 2048);
	/* the checklist: checkpointing could be turned on and saves memory;
	 * the rank is a lever of a LoRA run, bf16 is already on */
	assert_true(chk->levers[VF_LEVER_GRAD_CKPT].applicable);
	assert_false(chk->levers[VF_LEVER_GRAD_CKPT].at_limit);
	assert_true(chk->levers[VF_LEVER_GRAD_CKPT].saves_bytes > 0);
	assert_true(chk->levers[VF_LEVER_GRAD_CKPT].speed_ratio < 1.0);
	assert_true(chk->levers[VF_LEVER_BF16].at_limit);
	assert_true(chk->levers[VF_LEVER_RANK].applicable);

	/* 6 GB: only a change of numerics (the 4-bit base) can fit */
	uint64_t small = 6 * GiB - (1024ull << 20);
	c->run.seq_len = 512;
	assert_int_equal(vf_check_run(&m, &c->run, small, NULL, chk, &err), VF_OK);
	if (chk->have_fix) {
		assert_true(chk->fix_tier >= VF_TIER_NUMERICS);
		assert_int_equal(vf_estimate_run(&m, &chk->fix_est.run, &e, &err),
				 VF_OK);
		assert_true(e.peak_process <= small);
	}
	/* the README's example on a 6 GB laptop: only a shorter sequence
	 * fits; a lower rank would be a second change to what is trained,
	 * and is not made even though it is a little faster */
	vf_run q;
	vf_run_init(&q);
	q.method = VF_METHOD_QLORA;
	q.quant = VF_QUANT_NF4_DQ;
	q.lora.r = 16;
	q.seq_len = 2048;
	q.micro_batch = 1;
	q.grad_accum = 16;
	q.grad_ckpt = VF_CKPT_ON;
	q.optimizer = VF_OPTIM_PAGED_ADAMW_8BIT;
	assert_int_equal(vf_check_run(&m, &q, small, NULL, chk, &err), VF_OK);
	assert_true(chk->have_fix);
	assert_int_equal(chk->fix_tier, VF_TIER_WHAT_IS_TRAINED);
	assert_int_equal(chk->fix_levers, 1u << VF_LEVER_SEQ);
	assert_int_equal(chk->fix_est.run.seq_len, 512);
	assert_int_equal(chk->fix_est.run.lora.r, 16);

	/* a full fine-tune has no rank and no 4-bit lever */
	vf_run full;
	vf_run_init(&full);
	full.method = VF_METHOD_FULL;
	assert_int_equal(vf_check_run(&m, &full, 0, NULL, chk, &err), VF_OK);
	assert_true(chk->fits); /* no budget */
	assert_false(chk->levers[VF_LEVER_RANK].applicable);
	assert_false(chk->levers[VF_LEVER_QUANT].applicable);
	assert_false(chk->have_fix);
	free(chk);
	free(c);
}

static void cli_check(void **state)
{
	(void)state;
	char cfg[1024];
	snprintf(cfg, sizeof cfg, "%s", fixture("trl-qlora-24gb.yaml"));
	cli_result r = cli_run(ARGS("check", cfg, "--gpu", "rtx3090"));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "FITS"));
	assert_non_null(strstr(r.out, "gradient checkpointing"));
	cli_result_free(&r);

	snprintf(cfg, sizeof cfg, "%s", fixture("hf-lora-too-big.yaml"));
	r = cli_run(ARGS("check", cfg, "--gpu", "rtx4090"));
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "DOES NOT FIT"));
	/* written in the file's own keys */
	assert_non_null(strstr(r.out, "gradient_checkpointing: true"));
	cli_result_free(&r);

	r = cli_run(ARGS("check", cfg, "--gpu", "rtx4090", "--json"));
	assert_int_equal(r.status, 1);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "fits")));
	json_t *sug = json_object_get(j, "suggestion");
	assert_true(json_is_object(sug));
	json_int_t peak = json_integer_value(json_object_get(
		json_object_get(sug, "peak"), "process_bytes"));
	assert_true(peak > 0 &&
		    peak <= json_integer_value(json_object_get(j, "budget_bytes")));
	assert_int_equal(json_array_size(json_object_get(j, "levers")),
			 VF_LEVER_COUNT);
	json_decref(j);
	cli_result_free(&r);

	snprintf(cfg, sizeof cfg, "%s", fixture("unknown-keys.yaml"));
	r = cli_run(ARGS("check", cfg, "--vram", "80"));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "unknown-keys.yaml:3:1: unknown key "
				      "'gradient_acumulation_steps'"));
	cli_result_free(&r);

	/* bad input: one line, exit 2 */
	static const struct {
		const char *file, *mentions;
	} bad[] = {
		{"zero3-offload.json", "--model"},
		{"malformed.yaml", "malformed.yaml:3:"},
		{"malformed.json", "malformed.json:3:"},
		{"wrong-type.yaml", "per_device_train_batch_size"},
		{"no-such-file.yaml", "no-such-file.yaml"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(cfg, sizeof cfg, "%s", fixture(bad[i].file));
		r = cli_run(ARGS("check", cfg));
		assert_int_equal(r.status, 2);
		assert_int_equal(cli_count_lines(r.err), 1);
		if (!strstr(r.err, bad[i].mentions))
			fail_msg("%s: \"%s\" does not say %s", bad[i].file, r.err,
				 bad[i].mentions);
		cli_result_free(&r);
	}
	snprintf(cfg, sizeof cfg, "%s", fixture("zero3-offload.json"));
	r = cli_run(ARGS("check", cfg, "--model", "meta-llama/Llama-2-7b-hf",
			 "--gpus", "4", "--vram", "80"));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "4 GPUs zero3"));
	assert_non_null(strstr(r.out, "host RAM for offload"));
	cli_result_free(&r);
	r = cli_run(ARGS("check"));
	assert_int_equal(r.status, 2);
	cli_result_free(&r);
	r = cli_run(ARGS("check", cfg, "--format", "toml"));
	assert_int_equal(r.status, 2);
	cli_result_free(&r);
}

/* estimate, when a run does not fit, names the flags that make it fit:
 * adding them must fit. */
static void estimate_suggests_flags_that_fit(void **state)
{
	(void)state;
	cli_result r = cli_run(ARGS("estimate", "--model",
				    "meta-llama/Llama-2-7b-hf", "--method", "lora",
				    "--seq", "2048", "--batch", "4", "--vram", "24"));
	assert_int_equal(r.status, 1);
	const char *add = strstr(r.out, "fits (same training): add ");
	assert_non_null(add);
	add += strlen("fits (same training): add ");
	char flags[256];
	size_t n = strcspn(add, "(");
	assert_true(n > 0 && n < sizeof flags);
	memcpy(flags, add, n);
	flags[n] = '\0';
	cli_result_free(&r);

	const char *argv[32] = {"estimate", "--model", "meta-llama/Llama-2-7b-hf",
				"--method", "lora", "--seq", "2048", "--batch",
				"4", "--vram", "24"};
	size_t argc = 11;
	for (char *save, *tok = strtok_r(flags, " ", &save); tok && argc < 31;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	r = cli_run(argv);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "FITS"));
	cli_result_free(&r);
}

/* What plan writes, check reads back to the same configuration and peak. */
static void plan_round_trip(void **state)
{
	(void)state;
	static const char *const formats[] = {"hf", "axolotl"};
	for (size_t i = 0; i < 2; i++) {
		char path[600], spec[700];
		snprintf(path, sizeof path, "%s",
			 cli_temp_file(i ? "plan.axolotl.yaml" : "plan.hf.yaml", ""));
		unlink(path);
		snprintf(spec, sizeof spec, "%s:%s", formats[i], path);
		cli_result r = cli_run(ARGS("plan", "--model",
					    "meta-llama/Llama-2-7b-hf", "--gpu",
					    "rtx4050-laptop", "--max-seq", "2048",
					    "--host-ram", "none", "--json",
					    "--emit", spec));
		assert_int_equal(r.status, 0);
		json_t *plan = json_loads(r.out, 0, NULL);
		assert_non_null(plan);
		json_int_t want = json_integer_value(json_object_get(
			json_object_get(json_object_get(plan, "chosen"), "peak"),
			"process_bytes"));
		json_decref(plan);
		cli_result_free(&r);

		r = cli_run(ARGS("check", path, "--gpu", "rtx4050-laptop",
				 "--json"));
		assert_int_equal(r.status, 0);
		json_t *chk = json_loads(r.out, 0, NULL);
		assert_non_null(chk);
		assert_true(json_is_true(json_object_get(chk, "fits")));
		json_int_t got = json_integer_value(json_object_get(
			json_object_get(chk, "peak"), "process_bytes"));
		if (got != want)
			fail_msg("%s: plan %lld bytes, check %lld", formats[i],
				 (long long)want, (long long)got);
		assert_int_equal(json_array_size(json_object_get(chk, "warnings")), 0);
		json_decref(chk);
		cli_result_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_trl_with_peft_and_bnb),
		cmocka_unit_test(reads_axolotl),
		cmocka_unit_test(reads_deepspeed),
		cmocka_unit_test(reads_training_args_json),
		cmocka_unit_test(reports_unknown_keys_and_bad_files),
		cmocka_unit_test(smallest_change_fits),
		cmocka_unit_test(cli_check),
		cmocka_unit_test(estimate_suggests_flags_that_fit),
		cmocka_unit_test(plan_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
