/*
 * test_versions.c - version strings as pip and the calibration rows write
 * them, and each version rule of the framework profiles against a hand
 * calculation of the bytes it adds or removes (docs/memory-model.md,
 * "Framework versions").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vramfit.h"

/* Llama-2-7b-hf, from its config.json */
enum { H = 4096, I = 11008, V = 32000, L = 32 };

static void parses_what_people_write(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint32_t want; /* 0: not a version */
	} cases[] = {
		{"4.38.2", VF_VERSION(4, 38, 2)},
		{"v0.22", VF_VERSION(0, 22, 0)},
		{">=0.43.3", VF_VERSION(0, 43, 3)},
		{"==4.46.0", VF_VERSION(4, 46, 0)},
		{"2.5.0+cu121", VF_VERSION(2, 5, 0)},
		{"0.41.1.post2", VF_VERSION(0, 41, 1)},
		{"1.7.0rc1", VF_VERSION(1, 7, 0)},
		{"8641822", 0},                       /* a litgpt commit */
		{"(adapter rows: PR #694)", 0},
		{"", 0},
		{"1.2345", 0},                        /* no part reaches 1000 */
		{"4.x", 0},
		{"<0.43", 0},                         /* a ceiling, not a version */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t v = 12345;
		bool ok = vf_version_parse(cases[i].text, &v);
		if (cases[i].want) {
			assert_true(ok);
			assert_int_equal(v, cases[i].want);
		} else if (ok) {
			fail_msg("\"%s\" read as a version", cases[i].text);
		}
	}
	assert_false(vf_version_parse(NULL, &(uint32_t){0}));
	char buf[16];
	vf_version_format(VF_VERSION(0, 43, 2), buf, sizeof buf);
	assert_string_equal(buf, "0.43.2");
}

static void parses_version_lists(void **state)
{
	(void)state;
	uint32_t v[VF_PKG_COUNT] = {0};
	vf_error err;
	assert_int_equal(vf_versions_parse("transformers=4.38.2,TRL=0.21,"
					   "bitsandbytes=0.41.1", v, &err),
			 VF_OK);
	assert_int_equal(v[VF_PKG_TRANSFORMERS], VF_VERSION(4, 38, 2));
	assert_int_equal(v[VF_PKG_TRL], VF_VERSION(0, 21, 0));
	assert_int_equal(v[VF_PKG_BITSANDBYTES], VF_VERSION(0, 41, 1));
	assert_int_equal(v[VF_PKG_PEFT], 0);
	assert_int_equal(vf_versions_parse("deepspeed=0.14", v, &err), VF_EINVAL);
	assert_non_null(strstr(err.message, "deepspeed"));
	assert_int_equal(vf_versions_parse("peft", v, &err), VF_EINVAL);
	assert_int_equal(vf_versions_parse("peft=abc", v, &err), VF_EINVAL);
	assert_non_null(strstr(err.message, "abc"));
	assert_int_equal(vf_versions_parse("", v, &err), VF_EINVAL);
}

static vf_model llama7b(void)
{
	vf_model m;
	vf_error err;
	assert_int_equal(vf_builtin_model(&m, "meta-llama/Llama-2-7b-hf", &err),
			 VF_OK);
	return m;
}

static vf_estimate estimate(const vf_run *r)
{
	vf_model m = llama7b();
	vf_estimate e;
	vf_error err;
	if (vf_estimate_run(&m, r, &e, &err) != VF_OK)
		fail_msg("%s", err.message);
	return e;
}

static uint64_t term(const vf_estimate *e, const char *label)
{
	for (unsigned i = 0; i < e->n_terms; i++)
		if (strcmp(e->terms[i].label, label) == 0)
			return e->terms[i].bytes;
	fail_msg("no term \"%s\"", label);
	return 0;
}

static uint64_t term_of(const vf_run *r, const char *label)
{
	vf_estimate e = estimate(r);
	return term(&e, label);
}

static vf_run qlora(vf_framework fw)
{
	vf_run r;
	vf_run_init(&r);
	r.framework = fw;
	r.method = VF_METHOD_QLORA;
	r.quant = VF_QUANT_NF4;
	r.lora.r = 16;
	r.lora.dropout = 0.05;
	r.micro_batch = 1;
	r.seq_len = 2048;
	r.grad_ckpt = VF_CKPT_OFF;
	return r;
}

/* bitsandbytes < 0.43.2: every 4-bit linear keeps its bf16 input A. Per
 * token and layer: the attention norm output (read by q, k, v), the MLP
 * norm output (gate, up) and the down input, 2 bytes each element. */
static void old_bitsandbytes_keeps_4bit_inputs(void **state)
{
	(void)state;
	vf_run r = qlora(VF_FW_HF_TRAINER);
	r.versions[VF_PKG_BITSANDBYTES] = VF_VERSION(0, 43, 3);
	uint64_t fixed = term_of(&r, "saved activations");
	r.versions[VF_PKG_BITSANDBYTES] = VF_VERSION(0, 41, 1);
	uint64_t old = term_of(&r, "saved activations");
	const uint64_t per_token_layer = 2ull * (H + H + I);
	assert_int_equal(old - fixed, per_token_layer * 2048 * L);
	/* an unstated version is today's bitsandbytes */
	r.versions[VF_PKG_BITSANDBYTES] = 0;
	assert_int_equal(term_of(&r, "saved activations"),
			 fixed);
}

/* PEFT < 0.12 keeps adapters in the model dtype (bf16), not fp32. LoRA
 * r=16 on q and v: 32 layers x 2 modules x r x (4096 + 4096). */
static void old_peft_adapters_in_model_dtype(void **state)
{
	(void)state;
	vf_run r = qlora(VF_FW_HF_TRAINER);
	const uint64_t params = 32ull * 2 * 16 * (H + H);
	assert_int_equal(term_of(&r, "adapter parameters"),
			 params * 4);
	r.versions[VF_PKG_PEFT] = VF_VERSION(0, 11, 1);
	assert_int_equal(term_of(&r, "adapter parameters"),
			 params * 2);
}

/* TRL defaults: checkpointing from 0.22, chunked NLL from 1.7; a TRL
 * version says nothing about a run that is not TRL. */
static void trl_defaults_by_version(void **state)
{
	(void)state;
	vf_run r = qlora(VF_FW_TRL);
	r.grad_ckpt = VF_CKPT_UNSET;
	assert_int_equal(estimate(&r).run.grad_ckpt, VF_CKPT_ON);
	r.versions[VF_PKG_TRL] = VF_VERSION(0, 21, 0);
	assert_int_equal(estimate(&r).run.grad_ckpt, VF_CKPT_OFF);
	assert_int_equal(estimate(&r).run.loss, VF_LOSS_STANDARD);
	r.versions[VF_PKG_TRL] = VF_VERSION(1, 7, 0);
	assert_int_equal(estimate(&r).run.grad_ckpt, VF_CKPT_ON);
	assert_int_equal(estimate(&r).run.loss, VF_LOSS_FUSED);
	r.framework = VF_FW_HF_TRAINER;
	assert_int_equal(estimate(&r).run.loss, VF_LOSS_STANDARD);
	assert_int_equal(estimate(&r).run.grad_ckpt, VF_CKPT_OFF);
}

/* transformers < 4.46: fp32 logits, a contiguous fp32 shifted copy and the
 * fp32 log_softmax, 12 bytes per token and vocabulary entry, in forward;
 * newer: bf16 logits, the fp32 upcast and log_softmax, plus accelerate's
 * fp32 output copy replacing the transient upcast: 2 + 4 + 4. */
static void old_transformers_logits(void **state)
{
	(void)state;
	vf_run r = qlora(VF_FW_HF_TRAINER);
	const uint64_t TV = 2048ull * V;
	assert_int_equal(term_of(&r, "logits and loss, forward"),
			 TV * (2 + 4 + 4));
	r.versions[VF_PKG_TRANSFORMERS] = VF_VERSION(4, 38, 2);
	assert_int_equal(term_of(&r, "logits and loss, forward"),
			 TV * 12);
	/* litgpt has its own model code: a transformers version is moot */
	r.framework = VF_FW_LITGPT;
	vf_estimate with = estimate(&r);
	r.versions[VF_PKG_TRANSFORMERS] = 0;
	assert_int_equal(term(&with, "logits and loss, forward"),
			 term_of(&r, "logits and loss, forward"));
}

/* Versions travel through the run JSON: the library packages by key, the
 * framework's own "version" where the framework is a package (TRL), and
 * text that is no version (a commit) stays unknown instead of failing. */
static void versions_round_trip_through_json(void **state)
{
	(void)state;
	const char *text =
		"{\"model\": \"meta-llama/Llama-2-7b-hf\", \"method\": \"qlora\","
		" \"framework\": {\"name\": \"trl\", \"version\": \"0.21.0\","
		" \"transformers\": \"4.38.2\", \"peft\": null,"
		" \"bitsandbytes\": \">=0.41.1\", \"torch\": \"2.1.0+cu121\"}}";
	vf_run r;
	char model[64];
	vf_error err;
	assert_int_equal(vf_run_from_json(&r, model, sizeof model, text,
					  strlen(text), &err), VF_OK);
	assert_int_equal(r.versions[VF_PKG_TRL], VF_VERSION(0, 21, 0));
	assert_int_equal(r.versions[VF_PKG_TRANSFORMERS], VF_VERSION(4, 38, 2));
	assert_int_equal(r.versions[VF_PKG_PEFT], 0);
	assert_int_equal(r.versions[VF_PKG_BITSANDBYTES], VF_VERSION(0, 41, 1));
	assert_int_equal(r.versions[VF_PKG_TORCH], VF_VERSION(2, 1, 0));
	char *out = vf_run_to_json(&r, model);
	assert_non_null(strstr(out, "\"transformers\":\"4.38.2\""));
	assert_non_null(strstr(out, "\"version\":\"0.21.0\""));
	vf_run back;
	assert_int_equal(vf_run_from_json(&back, model, sizeof model, out,
					  strlen(out), &err), VF_OK);
	assert_memory_equal(back.versions, r.versions, sizeof r.versions);
	free(out);

	const char *litgpt =
		"{\"model\": \"x\", \"framework\": {\"name\": \"litgpt\","
		" \"version\": \"8641822\", \"bitsandbytes\": \"0.41.1\"}}";
	assert_int_equal(vf_run_from_json(&r, model, sizeof model, litgpt,
					  strlen(litgpt), &err), VF_OK);
	assert_int_equal(r.versions[VF_PKG_TRL], 0);
	assert_int_equal(r.versions[VF_PKG_BITSANDBYTES], VF_VERSION(0, 41, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_what_people_write),
		cmocka_unit_test(parses_version_lists),
		cmocka_unit_test(old_bitsandbytes_keeps_4bit_inputs),
		cmocka_unit_test(old_peft_adapters_in_model_dtype),
		cmocka_unit_test(trl_defaults_by_version),
		cmocka_unit_test(old_transformers_logits),
		cmocka_unit_test(versions_round_trip_through_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
