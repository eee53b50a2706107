/*
 * test_model_source.c - --model from local sources: model folders (one
 * file, sharded with an index), the Hugging Face cache layout and its
 * environment, offline mode, headers that disagree with the config,
 * checkpoints stored quantized, model types outside the table; and the
 * safetensors parser's refusals. The safetensors files are written here
 * with known tensors; the expected counts are worked out by hand.
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
#include <sys/stat.h>
#include <unistd.h>

#include "hfcache.h"
#include "safetensors.h"
#include "vramfit.h"

/*
 * The tiny Llama: vocab 64, hidden 16, 2 layers, 2 heads of 8, 1 kv head,
 * intermediate 32, untied.
 *   embed 64*16 = 1024, lm_head 1024, final norm 16
 *   per layer: q 256 + k 128 + v 128 + o 256 + gate/up/down 3*512 + 2 norms
 *              32 = 2336, two layers 4672
 *   total 1024 + 1024 + 16 + 4672 = 6736
 */
#define TINY_PARAMS 6736ull
#define TINY_TENSORS 21ull

static const char *TINY_CONFIG =
	"{\"model_type\": \"%s\", \"vocab_size\": 64, \"hidden_size\": 16,"
	" \"intermediate_size\": 32, \"num_hidden_layers\": 2,"
	" \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
	" \"tie_word_embeddings\": %s, \"torch_dtype\": \"bfloat16\"%s}";

typedef struct tensor {
	char name[96];
	const char *dtype;
	uint64_t shape[4];
	unsigned dims;
} tensor;

static unsigned dtype_size(const char *d)
{
	if (!strcmp(d, "F32") || !strcmp(d, "I32"))
		return 4;
	if (!strcmp(d, "U8") || !strcmp(d, "I8") || !strcmp(d, "F8_E4M3"))
		return 1;
	return 2;
}

static unsigned add(tensor *t, unsigned n, const char *name, const char *dt,
		    unsigned dims, uint64_t a, uint64_t b)
{
	snprintf(t[n].name, sizeof t[n].name, "%s", name);
	t[n].dtype = dt;
	t[n].dims = dims;
	t[n].shape[0] = a;
	t[n].shape[1] = b;
	return n + 1;
}

/* The tiny Llama's tensors in BF16; `lm_head` false leaves it out (tied). */
static unsigned llama(tensor *t, bool lm_head)
{
	unsigned n = 0;
	n = add(t, n, "model.embed_tokens.weight", "BF16", 2, 64, 16);
	n = add(t, n, "model.norm.weight", "BF16", 1, 16, 0);
	if (lm_head)
		n = add(t, n, "lm_head.weight", "BF16", 2, 64, 16);
	static const struct {
		const char *s;
		uint64_t a, b;
		unsigned dims;
	} per[] = {
		{"self_attn.q_proj.weight", 16, 16, 2},
		{"self_attn.k_proj.weight", 8, 16, 2},
		{"self_attn.v_proj.weight", 8, 16, 2},
		{"self_attn.o_proj.weight", 16, 16, 2},
		{"mlp.gate_proj.weight", 32, 16, 2},
		{"mlp.up_proj.weight", 32, 16, 2},
		{"mlp.down_proj.weight", 16, 32, 2},
		{"input_layernorm.weight", 16, 0, 1},
		{"post_attention_layernorm.weight", 16, 0, 1},
	};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
			char name[96];
			snprintf(name, sizeof name, "model.layers.%d.%s", l,
				 per[i].s);
			n = add(t, n, name, "BF16", per[i].dims, per[i].a,
				per[i].b);
		}
	return n;
}

static char base[256];

static void mkdir_p(const char *path)
{
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0777);
			*p = '/';
		}
	mkdir(tmp, 0777);
}

/* A fresh folder under the test's temporary directory (the last 8 paths
 * stay valid). */
static const char *folder(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *path = paths[next++ % 8];
	snprintf(path, 512, "%s/%s", base, name);
	mkdir_p(path);
	return path;
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_config(const char *dir, const char *type, bool tied,
			 const char *extra)
{
	char text[1024];
	snprintf(text, sizeof text, TINY_CONFIG, type, tied ? "true" : "false",
		 extra);
	write_text(dir, "config.json", text);
}

/* Writes a .safetensors file: 8-byte length, JSON header, zero data. */
static void write_st(const char *dir, const char *name, const tensor *t,
		     unsigned n)
{
	json_t *h = json_object();
	uint64_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t elems = 1;
		json_t *shape = json_array();
		for (unsigned d = 0; d < t[i].dims; d++) {
			elems *= t[i].shape[d];
			json_array_append_new(shape,
					      json_integer((json_int_t)t[i].shape[d]));
		}
		uint64_t bytes = elems * dtype_size(t[i].dtype);
		json_object_set_new(
			h, t[i].name,
			json_pack("{s:s, s:o, s:[I, I]}", "dtype", t[i].dtype,
				  "shape", shape, "data_offsets",
				  (json_int_t)off, (json_int_t)(off + bytes)));
		off += bytes;
	}
	char *js = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	size_t len = strlen(js);
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	unsigned char prefix[8];
	for (int i = 0; i < 8; i++)
		prefix[i] = (unsigned char)((uint64_t)len >> (8 * i));
	fwrite(prefix, 1, 8, f);
	fwrite(js, 1, len, f);
	for (uint64_t i = 0; i < off; i++)
		fputc(0, f);
	fclose(f);
	free(js);
}

static vf_source_opts offline_opts(const char *hf_cache)
{
	vf_source_opts o;
	vf_source_opts_init(&o);
	o.offline = true;
	o.hf_cache = hf_cache;
	o.cache_dir = folder("vf-cache");
	return o;
}

static bool has_warning(const vf_source_info *info, const char *text)
{
	for (unsigned i = 0; i < info->n_warnings; i++)
		if (strstr(info->warnings[i], text))
			return true;
	return false;
}

static void folder_one_file(void **state)
{
	(void)state;
	const char *dir = folder("one");
	tensor t[64];
	write_config(dir, "llama", false, "");
	write_st(dir, "model.safetensors", t, llama(t, true));
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf"));
	assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err), VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_FOLDER);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_int_equal(info.config_params, TINY_PARAMS);
	assert_int_equal(info.header_elements, TINY_PARAMS);
	assert_int_equal(info.header_tensors, TINY_TENSORS);
	assert_int_equal(info.header_bytes, 2 * TINY_PARAMS);
	assert_int_equal(info.n_shards, 1);
	assert_int_equal(info.n_dtypes, 1);
	assert_string_equal(info.dtypes[0].dtype, "BF16");
	assert_false(info.params_from_headers);
	assert_int_equal(info.prequant, VF_PREQUANT_NONE);
	assert_int_equal(info.n_warnings, 0);

	/* a path to the config.json alone */
	char cfg[600];
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	assert_int_equal(vf_model_resolve(cfg, &o, &m, &info, &err), VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_CONFIG_FILE);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_int_equal(info.n_shards, 0);
}

/* 16 parameters the config does not describe: headers win, and say so. */
static void headers_disagree(void **state)
{
	(void)state;
	const char *dir = folder("extra");
	tensor t[64];
	unsigned n = llama(t, true);
	n = add(t, n, "model.extra_scale.weight", "BF16", 2, 4, 4);
	write_config(dir, "llama", false, "");
	write_st(dir, "model.safetensors", t, n);
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf"));
	assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err), VF_OK);
	assert_int_equal(m.params.total, TINY_PARAMS + 16);
	assert_int_equal(info.config_params, TINY_PARAMS);
	assert_true(info.params_from_headers);
	assert_true(has_warning(&info, "6752"));
	assert_true(has_warning(&info, "6736"));

	/* the estimate's weights follow: 16 more bf16 parameters */
	vf_model cfg_only;
	char cfg[600];
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	assert_int_equal(vf_model_resolve(cfg, &o, &cfg_only, NULL, &err), VF_OK);
	vf_run run;
	vf_run_init(&run);
	run.method = VF_METHOD_FULL;
	run.precision = VF_PRECISION_BF16_TRUE;
	vf_estimate a, b;
	assert_int_equal(vf_estimate_run(&m, &run, &a, &err), VF_OK);
	assert_int_equal(vf_estimate_run(&cfg_only, &run, &b, &err), VF_OK);
	assert_int_equal(a.params_total - b.params_total, 16);
	assert_int_equal(a.component[VF_COMP_WEIGHTS] -
				 b.component[VF_COMP_WEIGHTS],
			 16 * 2);
}

/* A tied model saved with lm_head as well holds one tensor in memory. */
static void tied_copy_not_counted(void **state)
{
	(void)state;
	const char *dir = folder("tied");
	tensor t[64];
	write_config(dir, "llama", true, "");
	write_st(dir, "model.safetensors", t, llama(t, true));
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf"));
	assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err), VF_OK);
	assert_int_equal(m.params.total, TINY_PARAMS - 1024);
	assert_false(info.params_from_headers);
	assert_int_equal(info.n_warnings, 0);
}

static void folder_sharded(void **state)
{
	(void)state;
	const char *dir = folder("sharded");
	tensor t[64];
	unsigned n = llama(t, true);
	write_config(dir, "llama", false, "");
	write_st(dir, "a-00001.safetensors", t, 10);
	write_st(dir, "a-00002.safetensors", t + 10, n - 10);
	/* a stray file the index does not name must not be read */
	write_st(dir, "stray.safetensors", t, 3);
	json_t *map = json_object();
	for (unsigned i = 0; i < n; i++)
		json_object_set_new(map, t[i].name,
				    json_string(i < 10 ? "a-00001.safetensors"
						       : "a-00002.safetensors"));
	json_t *idx = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0,
				"weight_map", map);
	char *text = json_dumps(idx, 0);
	write_text(dir, "model.safetensors.index.json", text);
	free(text);
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf"));
	assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err), VF_OK);
	assert_int_equal(info.n_shards, 2);
	assert_int_equal(info.header_tensors, TINY_TENSORS);
	assert_int_equal(m.params.total, TINY_PARAMS);

	/* a shard the index names but the folder lacks */
	char path[600];
	snprintf(path, sizeof path, "%s/a-00002.safetensors", dir);
	remove(path);
	assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err),
			 VF_ENOTFOUND);
	assert_non_null(strstr(err.message, "a-00002.safetensors"));
	json_decref(idx);
}

/* bitsandbytes 4-bit: packed uint8 weights with absmax, quant_map and a
 * quant_state (bitsandbytes Params4bit serialisation). */
static void prequantized(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *dtype;
		const char *extra[3];
		vf_prequant want;
	} cases[] = {
		{"bnb4", "U8",
		 {".weight.absmax", ".weight.quant_map",
		  ".weight.quant_state.bitsandbytes__nf4"},
		 VF_PREQUANT_BNB_4BIT},
		{"bnb8", "I8", {".SCB", NULL, NULL}, VF_PREQUANT_BNB_8BIT},
		{"fp8", "F8_E4M3", {".weight_scale_inv", NULL, NULL},
		 VF_PREQUANT_FP8},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const char *dir = folder(cases[c].name);
		tensor t[96];
		unsigned n = llama(t, true);
		/* q_proj of layer 0 stored quantized */
		t[3].dtype = cases[c].dtype;
		if (!strcmp(cases[c].dtype, "U8"))
			t[3].shape[0] = 128, t[3].shape[1] = 1; /* 256/2 packed */
		for (int e = 0; e < 3 && cases[c].extra[e]; e++) {
			char name[96];
			snprintf(name, sizeof name,
				 "model.layers.0.self_attn.q_proj%s",
				 cases[c].extra[e]);
			n = add(t, n, name, "F32", 1, 4, 0);
		}
		write_config(dir, "llama", false, "");
		write_st(dir, "model.safetensors", t, n);
		vf_model m;
		vf_source_info info;
		vf_error err;
		vf_source_opts o = offline_opts(folder("hf"));
		assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err),
				 VF_OK);
		if (info.prequant != cases[c].want)
			fail_msg("%s: prequant %s", cases[c].name,
				 vf_prequant_name(info.prequant));
		/* counts stay the config's: packed elements are not params */
		assert_int_equal(m.params.total, TINY_PARAMS);
		assert_false(info.params_from_headers);
		assert_true(has_warning(&info, vf_prequant_name(cases[c].want)));
	}
}

/* config.json's quantization_config alone (GPTQ, no header marks). */
static void prequant_from_config(void **state)
{
	(void)state;
	const char *dir = folder("awqcfg");
	write_config(dir, "llama", false,
		     ", \"quantization_config\": {\"quant_method\": \"awq\"}");
	char cfg[600];
	snprintf(cfg, sizeof cfg, "%s", dir);
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf"));
	assert_int_equal(vf_model_resolve(cfg, &o, &m, &info, &err), VF_OK);
	assert_int_equal(info.prequant, VF_PREQUANT_AWQ);
}

/* A GPT-2 export with its causal-mask buffers: not parameters. */
static void buffers_ignored(void **state)
{
	(void)state;
	const char *json =
		"{\"h.0.attn.bias\": {\"dtype\": \"F32\", \"shape\": [1, 1, 4, 4],"
		" \"data_offsets\": [0, 64]},"
		" \"h.0.attn.c_attn.bias\": {\"dtype\": \"F32\", \"shape\": [12],"
		" \"data_offsets\": [64, 112]},"
		" \"model.layers.0.self_attn.rotary_emb.inv_freq\": {\"dtype\":"
		" \"F32\", \"shape\": [2], \"data_offsets\": [112, 120]}}";
	vf_st_summary s;
	memset(&s, 0, sizeof s);
	vf_error err;
	assert_int_equal(vf_st_parse_header(&s, json, strlen(json), 120, "t",
					    &err), VF_OK);
	assert_int_equal(s.tensors, 1);
	assert_int_equal(s.elements, 12);
	assert_int_equal(s.buffers, 2);
}

static void unknown_model_type(void **state)
{
	(void)state;
	const char *dir = folder("mystery");
	tensor t[64];
	write_config(dir, "mystery", false, "");
	write_st(dir, "model.safetensors", t, llama(t, true));
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf"));
	assert_int_equal(vf_model_resolve(dir, &o, &m, &info, &err), VF_OK);
	assert_true(info.arch_from_headers);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_int_equal(m.arch.hidden_size, 16);
	assert_int_equal(m.arch.num_layers, 2);
	assert_int_equal(m.arch.num_kv_heads, 1);
	assert_int_equal(m.arch.intermediate_size, 32);
	assert_true(has_warning(&info, "mystery"));

	/* no headers to fall back on: the supported types are listed */
	const char *bare = folder("mystery-bare");
	write_config(bare, "mystery", false, "");
	assert_int_equal(vf_model_resolve(bare, &o, &m, &info, &err),
			 VF_EUNSUPPORTED);
	assert_non_null(strstr(err.message, "mystery"));
	assert_non_null(strstr(err.message, "deepseek_v3"));
	assert_non_null(strstr(err.message, "gemma3_text"));
}

/* The HF cache as huggingface_hub writes it. */
static void hf_cache_layout(void **state)
{
	(void)state;
	const char *sha = "1111111111111111111111111111111111111111";
	const char *sha2 = "2222222222222222222222222222222222222222";
	char cache[512], snap[1024];
	snprintf(cache, sizeof cache, "%s", folder("hfc/hub"));
	snprintf(snap, sizeof snap, "%s/models--acme--tiny/snapshots/%s", cache,
		 sha);
	mkdir_p(snap);
	char refs[1024];
	snprintf(refs, sizeof refs, "%s/models--acme--tiny/refs", cache);
	mkdir_p(refs);
	write_text(refs, "main", sha);
	write_text(refs, "v2", sha2);
	tensor t[64];
	write_config(snap, "llama", false, "");
	write_st(snap, "model.safetensors", t, llama(t, true));

	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(cache);
	assert_int_equal(vf_model_resolve("acme/tiny", &o, &m, &info, &err),
			 VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_HF_CACHE);
	assert_string_equal(info.revision, sha);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_int_equal(info.n_shards, 1);
	assert_string_equal(m.name, "acme/tiny");

	char spec[128];
	snprintf(spec, sizeof spec, "acme/tiny@%s", sha);
	assert_int_equal(vf_model_resolve(spec, &o, &m, &info, &err), VF_OK);
	assert_string_equal(info.revision, sha);

	/* refs/v2 names a snapshot that is not there */
	assert_int_equal(vf_model_resolve("acme/tiny@v2", &o, &m, &info, &err),
			 VF_ENOTFOUND);
	assert_non_null(strstr(err.message, "offline"));

	/* the environment finds the same cache: HF_HOME/hub */
	char home[512];
	snprintf(home, sizeof home, "%s/hfc", base);
	setenv("HF_HOME", home, 1);
	unsetenv("HF_HUB_CACHE");
	char got[VF_PATH_MAX];
	assert_int_equal(vf_hf_hub_cache(got, sizeof got, &err), VF_OK);
	assert_string_equal(got, cache);
	o.hf_cache = NULL;
	assert_int_equal(vf_model_resolve("acme/tiny", &o, &m, &info, &err),
			 VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_HF_CACHE);
	/* HF_HUB_CACHE wins over HF_HOME */
	setenv("HF_HUB_CACHE", "/nonexistent/hub", 1);
	assert_int_equal(vf_hf_hub_cache(got, sizeof got, &err), VF_OK);
	assert_string_equal(got, "/nonexistent/hub");
	assert_int_equal(vf_model_resolve("acme/tiny", &o, &m, &info, &err),
			 VF_ENOTFOUND);
	unsetenv("HF_HOME");
}

static void token_sources(void **state)
{
	(void)state;
	char tok[128];
	unsetenv("HF_TOKEN");
	unsetenv("HUGGING_FACE_HUB_TOKEN");
	unsetenv("HF_TOKEN_PATH");
	const char *home = folder("tokhome");
	setenv("HF_HOME", home, 1);
	assert_false(vf_hf_token(tok, sizeof tok));
	write_text(home, "token", "  hf_filetoken\n");
	assert_true(vf_hf_token(tok, sizeof tok));
	assert_string_equal(tok, "hf_filetoken");
	setenv("HF_TOKEN", "hf_envtoken", 1);
	assert_true(vf_hf_token(tok, sizeof tok));
	assert_string_equal(tok, "hf_envtoken");
	unsetenv("HF_TOKEN");
	unsetenv("HF_HOME");
}

static void specs(void **state)
{
	(void)state;
	vf_model m;
	vf_source_info info;
	vf_error err;
	vf_source_opts o = offline_opts(folder("hf-empty"));
	/* built-ins first: no cache, no network */
	assert_int_equal(vf_model_resolve("meta-llama/Llama-2-7b-hf", &o, &m,
					  &info, &err), VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_BUILTIN);
	assert_int_equal(m.params.total, 6738415616ull);
	static const struct {
		const char *spec;
		vf_status st;
		const char *mentions;
	} bad[] = {
		{"", VF_EINVAL, "no model"},
		{"no-such-builtin", VF_ENOTFOUND, "no-such-builtin"},
		{"./missing/config.json", VF_ENOTFOUND, "no such file"},
		{"a/b/c", VF_ENOTFOUND, "no such file"},
		{"org/na me", VF_EINVAL, "Hub id"},
		{"org/..", VF_EINVAL, "Hub id"},
		{"org/name@../../x", VF_EINVAL, "revision"},
		{"org/name@", VF_EINVAL, "revision"},
		{"org/name", VF_ENOTFOUND, "offline"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		vf_status st = vf_model_resolve(bad[i].spec, &o, &m, &info, &err);
		if (st != bad[i].st || !strstr(err.message, bad[i].mentions))
			fail_msg("\"%s\": %s \"%s\" (wanted %s naming \"%s\")",
				 bad[i].spec, vf_status_name(st), err.message,
				 vf_status_name(bad[i].st), bad[i].mentions);
	}
	vf_repo_id id;
	assert_int_equal(vf_repo_id_parse("org/name@refs/pr/1", &id, &err), VF_OK);
	assert_string_equal(id.repo, "org/name");
	assert_string_equal(id.revision, "refs/pr/1");
}

/* What the parser refuses, with the reason in the message. */
static void header_refusals(void **state)
{
	(void)state;
	vf_error err;
	uint64_t len;
	unsigned char zero[8] = {0}, big[8] = {0}, ok[8] = {16};
	big[4] = 0x10; /* 2^36 bytes */
	assert_int_equal(vf_st_header_length(zero, UINT64_MAX, &len, "t", &err),
			 VF_EPARSE);
	assert_int_equal(vf_st_header_length(big, UINT64_MAX, &len, "t", &err),
			 VF_EPARSE);
	assert_non_null(strstr(err.message, "100 MB"));
	assert_int_equal(vf_st_header_length(ok, 20, &len, "t", &err), VF_EPARSE);
	assert_non_null(strstr(err.message, "truncated"));
	assert_int_equal(vf_st_header_length(ok, 24, &len, "t", &err), VF_OK);
	assert_int_equal(len, 16);

	static const struct {
		const char *json;
		vf_status st;
		const char *mentions;
	} cases[] = {
		{"[1]", VF_EPARSE, "not a JSON object"},
		{"{\"a\": {\"dtype\": \"BF16\", \"shape\": [4294967296, "
		 "4294967296, 4], \"data_offsets\": [0, 0]}}",
		 VF_EOVERFLOW, "overflow"},
		{"{\"a\": {\"dtype\": \"BF16\", \"shape\": [2], "
		 "\"data_offsets\": [0, 6]}}", VF_EPARSE, "6 bytes"},
		{"{\"a\": {\"dtype\": \"Q7\", \"shape\": [2], "
		 "\"data_offsets\": [0, 4]}}", VF_EPARSE, "dtype"},
		{"{\"a\": {\"dtype\": \"BF16\", \"shape\": [-2], "
		 "\"data_offsets\": [0, 4]}}", VF_EPARSE, "shape"},
		{"{\"a\": {\"dtype\": \"BF16\", \"shape\": [2], "
		 "\"data_offsets\": [0, 4]}, \"a\": {}}", VF_EPARSE, "duplicate"},
		{"{\"a\": {\"dtype\": \"BF16\", \"shape\": [2], "
		 "\"data_offsets\": [96, 100]}}", VF_EPARSE, "past the end"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		vf_st_summary s;
		memset(&s, 0, sizeof s);
		vf_status st = vf_st_parse_header(&s, cases[i].json,
						  strlen(cases[i].json), 64,
						  "t", &err);
		if (st != cases[i].st || !strstr(err.message, cases[i].mentions))
			fail_msg("case %zu: %s \"%s\"", i, vf_status_name(st),
				 err.message);
	}
	vf_st_name *shards;
	size_t n;
	static const char *const bad_index[] = {
		"{\"weight_map\": {\"a\": \"../evil.safetensors\"}}",
		"{\"weight_map\": {\"a\": \"/etc/x.safetensors\"}}",
		"{\"weight_map\": {\"a\": \"x.bin\"}}",
		"{\"weight_map\": {}}",
		"{\"metadata\": {}}",
	};
	for (size_t i = 0; i < sizeof bad_index / sizeof bad_index[0]; i++)
		assert_int_equal(vf_st_parse_index(bad_index[i],
						   strlen(bad_index[i]), &shards,
						   &n, "idx", &err),
				 VF_EPARSE);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(base, sizeof base, "%s/vf-ms-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(folder_one_file),
		cmocka_unit_test(headers_disagree),
		cmocka_unit_test(tied_copy_not_counted),
		cmocka_unit_test(folder_sharded),
		cmocka_unit_test(prequantized),
		cmocka_unit_test(prequant_from_config),
		cmocka_unit_test(buffers_ignored),
		cmocka_unit_test(unknown_model_type),
		cmocka_unit_test(hf_cache_layout),
		cmocka_unit_test(token_sources),
		cmocka_unit_test(specs),
		cmocka_unit_test(header_refusals),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
