/*
 * test_params.c - exact parameter counts of the built-in models against
 * counts published by their makers or keras-hub presets (stated) and the
 * INDEX of data/models (computed from the configs, cross-checked there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vramfit.h"

static const struct {
	const char *model;
	uint64_t params;
} published[] = {
	/* keras-hub preset "params" metadata (data/models/PROVENANCE.md) */
	{"meta-llama/Llama-2-7b-hf", 6738415616ull},
	{"meta-llama/Meta-Llama-3-8B", 8030261248ull},
	{"google/gemma-2-27b", 27227128320ull},
	{"google/gemma-2-2b-it", 2614341888ull},
	{"google/gemma-2-9b", 9241705984ull},
	{"google/gemma-2b", 2506172416ull},
	{"google/gemma-7b", 8537680896ull},
	{"microsoft/Phi-3-mini-4k-instruct", 3821079552ull},
	{"mistralai/Mistral-7B-v0.1", 7241732096ull},
	{"mistralai/Mistral-7B-v0.3", 7248023552ull},
	{"mistralai/Mixtral-8x7B-v0.1", 46702792704ull},
	{"openai-community/gpt2", 124439808ull},
	{"openai-community/gpt2-medium", 354823168ull},
	{"openai-community/gpt2-large", 774030080ull},
	{"openai-community/gpt2-xl", 1557611200ull},
	{"Qwen/Qwen2.5-32B", 32763876352ull},
	{"Qwen/Qwen2.5-3B", 3085938688ull},
	{"Qwen/Qwen2.5-72B-Instruct", 72706203648ull},
	{"Qwen/Qwen3-0.6B", 596049920ull},
	{"Qwen/Qwen3-1.7B", 1720574976ull},
	{"Qwen/Qwen3-14B", 14768307200ull},
	{"Qwen/Qwen3-30B-A3B", 30532122624ull},
	{"Qwen/Qwen3-32B", 32762123264ull},
	{"Qwen/Qwen3-4B", 4022468096ull},
	{"Qwen/Qwen3-8B", 8190735360ull},
	/* computed in data/models/PROVENANCE.md from the same configs */
	{"meta-llama/Llama-2-13b-hf", 13015864320ull},
	{"meta-llama/Llama-2-70b-hf", 68976648192ull},
	{"meta-llama/Llama-3.1-8B", 8030261248ull},
	{"meta-llama/Llama-3.1-70B-Instruct", 70553706496ull},
	{"meta-llama/Llama-3.2-1B", 1235814400ull},
	{"meta-llama/Llama-3.2-3B", 3212749824ull},
	{"microsoft/phi-1_5", 1418270720ull},
	{"microsoft/phi-2", 2779683840ull},
	{"microsoft/Phi-3.5-mini-instruct", 3821079552ull},
	{"Qwen/Qwen2-0.5B-Instruct", 494032768ull},
	{"Qwen/Qwen2-1.5B-Instruct", 1543714304ull},
	{"Qwen/Qwen2.5-14B", 14770033664ull},
	{"Qwen/Qwen2.5-7B", 7615616512ull},
	{"HuggingFaceTB/SmolLM-1.7B-Instruct", 1711376384ull},
	{"HuggingFaceTB/SmolLM2-135M-Instruct", 134515008ull},
	{"HuggingFaceTB/SmolLM2-360M-Instruct", 361821120ull},
	{"TinyLlama/TinyLlama-1.1B-Chat-v1.0", 1100048384ull},
	{"stabilityai/stablelm-2-zephyr-1_6b", 1644515328ull},
	{"stabilityai/stablelm-base-alpha-3b", 3637321728ull},
	{"EleutherAI/pythia-160m", 162322944ull},
	{"EleutherAI/pythia-1b", 1011781632ull},
	{"EleutherAI/pythia-6.9b", 6857302016ull},
	{"tiiuae/falcon-7b-instruct", 6921720704ull},
	{"tiiuae/falcon-40b-instruct", 41303293952ull},
	{"bigcode/gpt_bigcode-santacoder", 1124886528ull},
	{"allenai/OLMo-2-1124-7B", 7298617344ull},
	{"01-ai/Yi-1.5-34B", 34388917248ull},
	{"codellama/CodeLlama-34b-hf", 33744232448ull},
	{"deepseek-ai/DeepSeek-V2-Lite", 15706484224ull},
};

static void test_published_counts(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
		vf_model m;
		vf_error err = {0};
		vf_status st = vf_builtin_model(&m, published[i].model, &err);
		if (st) {
			print_error("%s: %s\n", published[i].model, err.message);
			bad++;
			continue;
		}
		if (m.params.total != published[i].params) {
			print_error("%s: got %llu, published %llu (diff %lld)\n",
				    published[i].model,
				    (unsigned long long)m.params.total,
				    (unsigned long long)published[i].params,
				    (long long)(m.params.total -
						published[i].params));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Llama-2-7B by hand: 32 layers of 4h^2 attention + 3hI MLP + 2h norms,
 * embeddings and untied head V*h each, final norm h. */
static void test_llama2_breakdown(void **state)
{
	(void)state;
	vf_model m;
	assert_int_equal(vf_builtin_model(&m, "llama-2-7b", NULL), VF_OK);
	uint64_t h = 4096, I = 11008, V = 32000, L = 32;
	assert_true(m.params.attention == L * 4 * h * h);
	assert_true(m.params.mlp == L * 3 * h * I);
	assert_true(m.params.norms == (2 * L + 1) * h);
	assert_true(m.params.embed == V * h);
	assert_true(m.params.lm_head == V * h);
	assert_int_equal(m.params.experts, 0);
}

/* Every built-in config must load. */
static void test_all_builtins_load(void **state)
{
	(void)state;
	for (size_t i = 0; i < vf_builtin_model_count(); i++) {
		vf_model m;
		vf_error err = {0};
		if (vf_builtin_model(&m, vf_builtin_model_name(i), &err))
			fail_msg("%s: %s", vf_builtin_model_name(i), err.message);
		assert_true(m.params.total > 0);
	}
}

static void test_aliases(void **state)
{
	(void)state;
	vf_model a, b;
	assert_int_equal(vf_builtin_model(&a, "meta-llama/Llama-3.1-8B-Instruct",
					  NULL), VF_OK);
	assert_int_equal(vf_builtin_model(&b, "meta-llama/Llama-3.1-8B", NULL),
			 VF_OK);
	assert_true(a.params.total == b.params.total);
	assert_int_equal(vf_builtin_model(&a, "LLAMA-2-7B", NULL), VF_OK);
	assert_true(a.params.total == 6738415616ull);
	vf_error err = {0};
	assert_int_equal(vf_builtin_model(&a, "no/such-model", &err),
			 VF_ENOTFOUND);
	assert_non_null(strstr(err.message, "no/such-model"));
}

static void test_bad_configs(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		const char *needle;
	} cases[] = {
		{"{", "1:"},
		{"[]", "not a JSON object"},
		{"{\"model_type\":\"bert\"}", "not supported"},
		{"{\"model_type\":\"llama\",\"hidden_size\":4096}", "vocab_size"},
		{"{\"model_type\":\"llama\",\"vocab_size\":-5,\"hidden_size\":8,"
		 "\"num_hidden_layers\":1,\"num_attention_heads\":1}",
		 "non-negative"},
		{"{\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":"
		 "4096,\"num_hidden_layers\":32,\"num_attention_heads\":32,"
		 "\"num_key_value_heads\":5,\"intermediate_size\":11008}",
		 "do not divide"},
		{"{\"model_type\":\"llama\",\"vocab_size\":1000000,\"hidden_size\":"
		 "100000,\"num_hidden_layers\":1000,\"num_attention_heads\":100,"
		 "\"intermediate_size\":400000}",
		 "trillion"},
		{"{\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":"
		 "4096,\"num_hidden_layers\":32,\"num_attention_heads\":32,"
		 "\"intermediate_size\":11008,\"tie_word_embeddings\":\"yes\"}",
		 "true or false"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		vf_model m;
		vf_error err = {0};
		vf_status st = vf_model_from_config_json(
			&m, "t", cases[i].json, strlen(cases[i].json), &err);
		if (st == VF_OK || !strstr(err.message, cases[i].needle))
			fail_msg("case %zu: status %d, message \"%s\", wanted "
				 "\"%s\"",
				 i, st, err.message, cases[i].needle);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_counts),
		cmocka_unit_test(test_llama2_breakdown),
		cmocka_unit_test(test_all_builtins_load),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_bad_configs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
