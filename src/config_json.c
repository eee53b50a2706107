/*
 * config_json.c - HF config.json -> vf_arch.
 *
 * One reader for built-in models and users' files alike. What a family
 * means (which norm, which biases, fused projections) is a row of the
 * family table; the config's own keys override the family defaults where
 * the HF configuration class has a key for it (e.g. LlamaConfig
 * `attention_bias`, `mlp_bias`; StableLmConfig `use_qkv_bias`;
 * FalconConfig `bias`, `multi_query`, `new_decoder_architecture`).
 */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum quirk {
	Q_NONE = 0,
	Q_ATTN_BIAS = 1 << 0,   /* attention_bias -> q,k,v,o biases */
	Q_MLP_BIAS = 1 << 1,    /* mlp_bias */
	Q_QKV_BIAS = 1 << 2,    /* use_qkv_bias (StableLM) */
	Q_ALL_BIAS = 1 << 3,    /* bias -> every linear (Falcon) */
	Q_FALCON_KV = 1 << 4,   /* multi_query / new_decoder_architecture */
	Q_MULTI_QUERY = 1 << 5, /* multi_query -> one kv head (GPTBigCode) */
	Q_MOE = 1 << 6,         /* read the MoE keys */
	Q_MLA = 1 << 7,         /* DeepSeek multi-head latent attention */
	Q_ROUTER_BIAS = 1 << 8, /* DeepSeek-V3 e_score_correction_bias */
};

typedef struct family {
	const char *model_type;
	const char *architecture; /* for configs without model_type */
	vf_mlp_kind mlp;
	vf_norm_kind norm;
	unsigned norms_per_layer;
	unsigned inter_mult;      /* intermediate = mult * hidden if absent */
	bool qkv_bias, o_bias, mlp_bias, lm_head_bias;
	bool tie;                 /* tie_word_embeddings default */
	bool learned_positions;
	bool fused_qkv, fused_gate_up, parallel, qk_norm, qk_norm_full;
	unsigned quirks;
} family;

/* Defaults from each family's HF configuration class and modeling file. */
static const family families[] = {
	{"llama", "LlamaForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .quirks = Q_ATTN_BIAS | Q_MLP_BIAS},
	{"mistral", "MistralForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .quirks = Q_ATTN_BIAS},
	{"mixtral", "MixtralForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .quirks = Q_MOE},
	{"qwen2", "Qwen2ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .qkv_bias = true},
	{"qwen2_moe", "Qwen2MoeForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .qkv_bias = true, .quirks = Q_MOE},
	{"qwen3", "Qwen3ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .qk_norm = true, .quirks = Q_ATTN_BIAS},
	{"qwen3_moe", "Qwen3MoeForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .qk_norm = true, .quirks = Q_ATTN_BIAS | Q_MOE},
	{"gemma", "GemmaForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .tie = true, .quirks = Q_ATTN_BIAS},
	{"gemma2", "Gemma2ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 4, 0,
	 .tie = true, .quirks = Q_ATTN_BIAS},
	{"gemma3_text", "Gemma3ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 4, 0,
	 .tie = true, .qk_norm = true, .quirks = Q_ATTN_BIAS},
	{"phi", "PhiForCausalLM", VF_MLP_PLAIN, VF_NORM_LAYER, 1, 4,
	 .qkv_bias = true, .o_bias = true, .mlp_bias = true,
	 .lm_head_bias = true, .parallel = true},
	{"phi-msft", NULL, VF_MLP_PLAIN, VF_NORM_LAYER, 1, 4, .qkv_bias = true,
	 .o_bias = true, .mlp_bias = true, .lm_head_bias = true,
	 .parallel = true},
	{"phi3", "Phi3ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .fused_qkv = true, .fused_gate_up = true},
	{"stablelm", "StableLmForCausalLM", VF_MLP_GATED, VF_NORM_LAYER, 2, 0,
	 .quirks = Q_QKV_BIAS},
	{"gpt2", "GPT2LMHeadModel", VF_MLP_PLAIN, VF_NORM_LAYER, 2, 4,
	 .qkv_bias = true, .o_bias = true, .mlp_bias = true, .tie = true,
	 .learned_positions = true, .fused_qkv = true},
	{"gpt_bigcode", "GPTBigCodeForCausalLM", VF_MLP_PLAIN, VF_NORM_LAYER,
	 2, 4, .qkv_bias = true, .o_bias = true, .mlp_bias = true, .tie = true,
	 .learned_positions = true, .fused_qkv = true,
	 .quirks = Q_MULTI_QUERY},
	{"gpt_neox", "GPTNeoXForCausalLM", VF_MLP_PLAIN, VF_NORM_LAYER, 2, 4,
	 .qkv_bias = true, .o_bias = true, .mlp_bias = true, .fused_qkv = true},
	{"falcon", "FalconForCausalLM", VF_MLP_PLAIN, VF_NORM_LAYER, 1, 4,
	 .tie = true, .fused_qkv = true, .parallel = true,
	 .quirks = Q_ALL_BIAS | Q_FALCON_KV},
	{"RefinedWebModel", "RWForCausalLM", VF_MLP_PLAIN, VF_NORM_LAYER, 1, 4,
	 .tie = true, .fused_qkv = true, .parallel = true,
	 .quirks = Q_ALL_BIAS | Q_FALCON_KV},
	{"olmo", "OlmoForCausalLM", VF_MLP_GATED, VF_NORM_NONPARAM, 2, 0,
	 .quirks = Q_ATTN_BIAS},
	{"olmo2", "Olmo2ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2, 0,
	 .qk_norm_full = true, .quirks = Q_ATTN_BIAS},
	{"deepseek_v2", "DeepseekV2ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2,
	 0, .quirks = Q_ATTN_BIAS | Q_MOE | Q_MLA},
	{"deepseek_v3", "DeepseekV3ForCausalLM", VF_MLP_GATED, VF_NORM_RMS, 2,
	 0, .quirks = Q_ATTN_BIAS | Q_MOE | Q_MLA | Q_ROUTER_BIAS},
};

const char *const *vf_supported_model_types(void)
{
	static const char *names[VF_ARRAY_LEN(families) + 1];
	if (!names[0])
		for (size_t i = 0; i < VF_ARRAY_LEN(families); i++)
			names[i] = families[i].model_type;
	return names;
}

/* The config keys each dimension may be spelled with, in order. */
static const char *const K_VOCAB[] = {"vocab_size", "padded_vocab_size", NULL};
static const char *const K_HIDDEN[] = {"hidden_size", "n_embd", "d_model",
				       "dim", NULL};
static const char *const K_LAYERS[] = {"num_hidden_layers", "n_layer",
				       "n_layers", "num_layers", NULL};
static const char *const K_HEADS[] = {"num_attention_heads", "n_head",
				      "n_heads", NULL};
static const char *const K_KV_HEADS[] = {"num_key_value_heads", "n_head_kv",
					 "num_kv_heads", "n_kv_heads", NULL};
static const char *const K_INTER[] = {"intermediate_size", "n_inner",
				      "ffn_hidden_size", "ffn_dim", NULL};
static const char *const K_HEAD_DIM[] = {"head_dim", NULL};
static const char *const K_POSITIONS[] = {"n_positions",
					  "max_position_embeddings", NULL};
static const char *const K_EXPERTS[] = {"num_local_experts", "num_experts",
					"n_routed_experts", NULL};
static const char *const K_TOPK[] = {"num_experts_per_tok", NULL};
static const char *const K_MOE_INTER[] = {"moe_intermediate_size", NULL};

/* Reads a non-negative integer under the first key present and not null. */
static vf_status get_u64(json_t *obj, const char *const *keys, uint64_t *out,
			 bool *found, const char *where, vf_error *err)
{
	*found = false;
	for (; *keys; keys++) {
		json_t *v = json_object_get(obj, *keys);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return vf_fail(err, VF_EINVAL,
				       "%s: \"%s\" must be a non-negative integer",
				       where, *keys);
		*out = (uint64_t)json_integer_value(v);
		*found = true;
		return VF_OK;
	}
	return VF_OK;
}

static vf_status get_bool(json_t *obj, const char *key, bool *out,
			  const char *where, vf_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return VF_OK;
	if (!json_is_boolean(v))
		return vf_fail(err, VF_EINVAL, "%s: \"%s\" must be true or false",
			       where, key);
	*out = json_is_true(v);
	return VF_OK;
}

static const family *find_family(json_t *root)
{
	const char *mt = json_string_value(json_object_get(root, "model_type"));
	if (mt) {
		for (size_t i = 0; i < VF_ARRAY_LEN(families); i++)
			if (strcmp(families[i].model_type, mt) == 0)
				return &families[i];
		return NULL;
	}
	json_t *archs = json_object_get(root, "architectures");
	const char *arch = json_string_value(json_array_get(archs, 0));
	if (!arch)
		return NULL;
	for (size_t i = 0; i < VF_ARRAY_LEN(families); i++)
		if (families[i].architecture &&
		    strcmp(families[i].architecture, arch) == 0)
			return &families[i];
	return NULL;
}

static size_t list_model_types(char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < VF_ARRAY_LEN(families); i++) {
		int w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
				 families[i].model_type);
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return n;
}

static vf_status read_moe(json_t *root, const family *f, vf_arch *a,
			  const char *where, vf_error *err)
{
	bool found;
	vf_status st = get_u64(root, K_EXPERTS, &a->num_experts, &found, where,
			       err);
	if (st || !a->num_experts)
		return st;
	if ((st = get_u64(root, K_TOPK, &a->experts_per_token, &found, where,
			  err)))
		return st;
	a->expert_intermediate_size = a->intermediate_size;
	if ((st = get_u64(root, K_MOE_INTER, &a->expert_intermediate_size,
			  &found, where, err)))
		return st;
	static const char *const k_shared_n[] = {"n_shared_experts", NULL};
	static const char *const k_shared_i[] = {
		"shared_expert_intermediate_size", NULL};
	static const char *const k_dense[] = {"first_k_dense_replace", NULL};
	uint64_t n_shared = 0;
	if ((st = get_u64(root, k_shared_n, &n_shared, &found, where, err)))
		return st;
	a->num_shared_experts = n_shared;
	/* DeepSeek: n_shared experts of moe width, run as one wide MLP
	 * (DeepseekV2MoE: intermediate_size = moe_intermediate_size *
	 * n_shared_experts). Qwen2-MoE names the total width directly. */
	a->shared_expert_intermediate_size =
		vf_mul(n_shared, a->expert_intermediate_size);
	if ((st = get_u64(root, k_shared_i, &a->shared_expert_intermediate_size,
			  &found, where, err)))
		return st;
	if (found && a->shared_expert_intermediate_size) {
		a->num_shared_experts = 1;
		a->shared_expert_gate = true; /* Qwen2MoeSparseMoeBlock */
	}
	if ((st = get_u64(root, k_dense, &a->first_dense_layers, &found, where,
			  err)))
		return st;
	(void)f;
	return VF_OK;
}

static vf_status read_mla(json_t *root, vf_arch *a, const char *where,
			  vf_error *err)
{
	static const char *const kq[] = {"q_lora_rank", NULL};
	static const char *const kkv[] = {"kv_lora_rank", NULL};
	static const char *const krope[] = {"qk_rope_head_dim", NULL};
	static const char *const knope[] = {"qk_nope_head_dim", NULL};
	static const char *const kv[] = {"v_head_dim", NULL};
	bool found;
	vf_status st;
	if ((st = get_u64(root, kq, &a->q_lora_rank, &found, where, err)) ||
	    (st = get_u64(root, kkv, &a->kv_lora_rank, &found, where, err)) ||
	    (st = get_u64(root, krope, &a->qk_rope_head_dim, &found, where,
			  err)) ||
	    (st = get_u64(root, knope, &a->qk_nope_head_dim, &found, where,
			  err)) ||
	    (st = get_u64(root, kv, &a->v_head_dim, &found, where, err)))
		return st;
	if (!a->kv_lora_rank)
		return vf_fail(err, VF_EINVAL, "%s: kv_lora_rank is missing",
			       where);
	return VF_OK;
}

static vf_status arch_from_json(json_t *root, vf_arch *a, const char *where,
				vf_error *err)
{
	if (!json_is_object(root))
		return vf_fail(err, VF_EPARSE, "%s: not a JSON object", where);
	const family *f = find_family(root);
	if (!f) {
		char types[512];
		list_model_types(types, sizeof types);
		const char *mt =
			json_string_value(json_object_get(root, "model_type"));
		return vf_fail(err, VF_EUNSUPPORTED,
			       "%s: model_type \"%s\" is not supported "
			       "(supported: %s)",
			       where, mt ? mt : "(missing)", types);
	}
	memset(a, 0, sizeof *a);
	vf_strlcpy(a->model_type, f->model_type, sizeof a->model_type);
	a->mlp = f->mlp;
	a->norm = f->norm;
	a->norms_per_layer = f->norms_per_layer;
	a->qkv_bias = f->qkv_bias;
	a->o_bias = f->o_bias;
	a->mlp_bias = f->mlp_bias;
	a->lm_head_bias = f->lm_head_bias;
	a->tie_embeddings = f->tie;
	a->fused_qkv = f->fused_qkv;
	a->fused_gate_up = f->fused_gate_up;
	a->parallel_block = f->parallel;
	a->qk_norm = f->qk_norm;
	a->qk_norm_full = f->qk_norm_full;
	a->dtype = VF_DTYPE_FP32; /* PretrainedConfig default torch_dtype */

	bool found;
	vf_status st;
	struct {
		const char *const *keys;
		uint64_t *dst;
		const char *what;
	} req[] = {
		{K_VOCAB, &a->vocab_size, "vocab_size"},
		{K_HIDDEN, &a->hidden_size, "hidden_size"},
		{K_LAYERS, &a->num_layers, "num_hidden_layers"},
		{K_HEADS, &a->num_heads, "num_attention_heads"},
	};
	for (size_t i = 0; i < VF_ARRAY_LEN(req); i++) {
		if ((st = get_u64(root, req[i].keys, req[i].dst, &found, where,
				  err)))
			return st;
		if (!found || *req[i].dst == 0)
			return vf_fail(err, VF_EINVAL,
				       "%s: \"%s\" is missing or zero", where,
				       req[i].what);
	}
	a->num_kv_heads = a->num_heads;
	if ((st = get_u64(root, K_KV_HEADS, &a->num_kv_heads, &found, where,
			  err)))
		return st;
	if (a->hidden_size % a->num_heads && !json_object_get(root, "head_dim"))
		return vf_fail(err, VF_EINVAL,
			       "%s: hidden_size %llu is not a multiple of %llu "
			       "heads and head_dim is not given",
			       where, (unsigned long long)a->hidden_size,
			       (unsigned long long)a->num_heads);
	a->head_dim = a->hidden_size / a->num_heads;
	if ((st = get_u64(root, K_HEAD_DIM, &a->head_dim, &found, where, err)))
		return st;
	a->intermediate_size = f->inter_mult * a->hidden_size;
	if ((st = get_u64(root, K_INTER, &a->intermediate_size, &found, where,
			  err)))
		return st;
	if (f->learned_positions) {
		if ((st = get_u64(root, K_POSITIONS, &a->max_positions, &found,
				  where, err)))
			return st;
		if (!found)
			a->max_positions = 1024; /* GPT2Config n_positions */
	}

	if ((st = get_bool(root, "tie_word_embeddings", &a->tie_embeddings,
			   where, err)))
		return st;
	if (f->quirks & Q_ATTN_BIAS) {
		bool b = a->qkv_bias;
		if ((st = get_bool(root, "attention_bias", &b, where, err)))
			return st;
		a->qkv_bias = a->o_bias = b;
	}
	if ((f->quirks & Q_MLP_BIAS) &&
	    (st = get_bool(root, "mlp_bias", &a->mlp_bias, where, err)))
		return st;
	if ((f->quirks & Q_QKV_BIAS) &&
	    (st = get_bool(root, "use_qkv_bias", &a->qkv_bias, where, err)))
		return st;
	if (f->quirks & Q_ALL_BIAS) {
		bool b = false; /* FalconConfig bias=False */
		if ((st = get_bool(root, "bias", &b, where, err)))
			return st;
		a->qkv_bias = a->o_bias = a->mlp_bias = b;
	}
	if (f->quirks & Q_MULTI_QUERY) {
		bool mq = false;
		if ((st = get_bool(root, "multi_query", &mq, where, err)))
			return st;
		if (mq)
			a->num_kv_heads = 1;
	}
	if (f->quirks & Q_FALCON_KV) {
		/* FalconConfig: new_decoder_architecture uses num_kv_heads and
		 * two norms (ln_attn, ln_mlp); otherwise multi_query (default
		 * true) means one kv head. parallel_attn=False adds a norm. */
		bool nda = false, mq = true, par = true;
		if ((st = get_bool(root, "new_decoder_architecture", &nda,
				   where, err)) ||
		    (st = get_bool(root, "multi_query", &mq, where, err)) ||
		    (st = get_bool(root, "parallel_attn", &par, where, err)))
			return st;
		if (nda)
			a->norms_per_layer = 2;
		else {
			a->num_kv_heads = mq ? 1 : a->num_heads;
			if (!par) {
				a->norms_per_layer = 2;
				a->parallel_block = false;
			}
		}
	}
	if ((f->quirks & Q_MOE) && (st = read_moe(root, f, a, where, err)))
		return st;
	if ((f->quirks & Q_MLA) && (st = read_mla(root, a, where, err)))
		return st;
	static const char *const k_window[] = {"sliding_window",
					       "sliding_window_size", NULL};
	bool use_sw = true;
	if ((st = get_bool(root, "use_sliding_window", &use_sw, where, err)))
		return st;
	uint64_t sw = 0;
	if (json_is_integer(json_object_get(root, "sliding_window")) ||
	    json_is_integer(json_object_get(root, "sliding_window_size"))) {
		if ((st = get_u64(root, k_window, &sw, &found, where, err)))
			return st;
	}
	a->sliding_window = use_sw ? sw : 0;

	const char *dt = json_string_value(json_object_get(root, "torch_dtype"));
	if (!dt)
		dt = json_string_value(json_object_get(root, "dtype"));
	if (dt && !vf_dtype_from_name(dt, &a->dtype))
		return vf_fail(err, VF_EINVAL, "%s: unknown torch_dtype \"%s\"",
			       where, dt);
	return VF_OK;
}

/*
 * Parse `text`; errors name `where`. The model is named `name`, else the
 * config's _name_or_path, else `fallback`.
 */
static vf_status model_from_text(vf_model *model, const char *name,
				 const char *where, const char *fallback,
				 const char *text, size_t len, vf_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return vf_fail(err, VF_EPARSE, "%s:%d:%d: %s", where, jerr.line,
			       jerr.column, jerr.text);
	vf_arch arch;
	vf_status st = arch_from_json(root, &arch, where, err);
	if (!st) {
		const char *np =
			json_string_value(json_object_get(root, "_name_or_path"));
		if (!name)
			name = np && *np ? np : fallback;
		/* vf_model_init copies the name before root, which may own
		 * it, is released. */
		st = vf_model_init(model, name, &arch, err);
	}
	json_decref(root);
	return st;
}

vf_status vf_model_from_config_json(vf_model *model, const char *name,
				    const char *text, size_t len, vf_error *err)
{
	return model_from_text(model, name, name ? name : "config.json",
			       "custom", text, len, err);
}

vf_status vf_model_from_config_file(vf_model *model, const char *path,
				    vf_error *err)
{
	char *text;
	size_t len;
	vf_status st = vf_read_file(path, &text, &len, 16u << 20, err);
	if (st)
		return st;
	st = model_from_text(model, NULL, path, path, text, len, err);
	free(text);
	return st;
}
