/*
 * arch.c - from an architecture to its linear layers and exact parameter
 * counts.
 *
 * The counts follow the module structure of the HF modeling code of each
 * family (e.g. transformers models/llama/modeling_llama.py: q/k/v/o_proj,
 * gate/up/down_proj, two RMSNorms per layer, a final norm, lm_head unless
 * tied). tests/test_params.c checks them against published exact counts
 * (data/models/PROVENANCE.md).
 */
#include "internal.h"

#include <string.h>

/* Limits beyond which an input is taken to be a mistake, not a model. */
#define VF_MAX_PARAMS 1000000000000ull /* 1e12: no supported model is larger */
#define VF_MAX_DIM (1ull << 24)        /* any single dimension */
#define VF_MAX_LAYERS 1024ull

static const char *const role_names[VF_ROLE_COUNT] = {
	[VF_ROLE_Q] = "q", [VF_ROLE_K] = "k", [VF_ROLE_V] = "v",
	[VF_ROLE_QKV] = "qkv", [VF_ROLE_O] = "o", [VF_ROLE_GATE] = "gate",
	[VF_ROLE_UP] = "up", [VF_ROLE_GATE_UP] = "gate_up",
	[VF_ROLE_DOWN] = "down", [VF_ROLE_FC1] = "fc1", [VF_ROLE_FC2] = "fc2",
	[VF_ROLE_ROUTER] = "router", [VF_ROLE_EMBED] = "embed",
	[VF_ROLE_LM_HEAD] = "lm_head",
};

const char *vf_role_name(vf_role role)
{
	return (unsigned)role < VF_ROLE_COUNT ? role_names[role] : "?";
}

/* Parameters of one norm of width n. */
static uint64_t norm_params(vf_norm_kind kind, uint64_t n)
{
	static const unsigned per_elem[VF_NORM_KIND_COUNT] = {
		[VF_NORM_RMS] = 1,
		[VF_NORM_LAYER] = 2,
		[VF_NORM_LAYER_NOBIAS] = 1,
		[VF_NORM_NONPARAM] = 0,
	};
	return vf_mul(per_elem[kind], n);
}

static vf_status add_linear(vf_model *m, vf_role role, uint64_t in,
			    uint64_t out, bool bias, uint64_t per_layer,
			    uint64_t active, uint64_t layers, bool expert,
			    vf_error *err)
{
	if (layers == 0 || per_layer == 0)
		return VF_OK;
	if (m->n_linears >= VF_MAX_LINEARS)
		return vf_fail(err, VF_EUNSUPPORTED,
			       "model %s: too many kinds of linear layer",
			       m->name);
	if (in == 0 || out == 0)
		return vf_fail(err, VF_EINVAL,
			       "model %s: %s projection has a zero dimension",
			       m->name, vf_role_name(role));
	m->linears[m->n_linears++] = (vf_linear){
		.role = role,
		.in_features = in,
		.out_features = out,
		.bias = bias,
		.expert = expert,
		.per_layer = per_layer,
		.active_per_token = active,
		.layers = layers,
	};
	return VF_OK;
}

static uint64_t linear_params(const vf_linear *l)
{
	uint64_t one = vf_add(vf_mul(l->in_features, l->out_features),
			      l->bias ? l->out_features : 0);
	return vf_mul3(one, l->per_layer, l->layers);
}

static vf_status add_attention(vf_model *m, vf_error *err)
{
	const vf_arch *a = &m->arch;
	uint64_t h = a->hidden_size, L = a->num_layers;
	vf_status st;

	if (a->kv_lora_rank) {
		/* DeepSeek MLA (modeling_deepseek.py DeepseekV2Attention):
		 * q_proj or q_a_proj+q_b_proj, kv_a_proj_with_mqa, kv_b_proj,
		 * o_proj. Roles: q* -> Q, kv_a -> K, kv_b -> V. */
		uint64_t qk = a->qk_nope_head_dim + a->qk_rope_head_dim;
		uint64_t qout = vf_mul(a->num_heads, qk);
		if (a->q_lora_rank) {
			st = add_linear(m, VF_ROLE_Q, h, a->q_lora_rank,
					a->qkv_bias, 1, 1, L, false, err);
			if (st)
				return st;
			st = add_linear(m, VF_ROLE_Q, a->q_lora_rank, qout,
					false, 1, 1, L, false, err);
		} else {
			st = add_linear(m, VF_ROLE_Q, h, qout, false, 1, 1, L,
					false, err);
		}
		if (st)
			return st;
		st = add_linear(m, VF_ROLE_K, h,
				a->kv_lora_rank + a->qk_rope_head_dim,
				a->qkv_bias, 1, 1, L, false, err);
		if (st)
			return st;
		st = add_linear(m, VF_ROLE_V, a->kv_lora_rank,
				vf_mul(a->num_heads,
				       a->qk_nope_head_dim + a->v_head_dim),
				false, 1, 1, L, false, err);
		if (st)
			return st;
		return add_linear(m, VF_ROLE_O, vf_mul(a->num_heads, a->v_head_dim),
				  h, a->o_bias, 1, 1, L, false, err);
	}

	uint64_t qd = vf_mul(a->num_heads, a->head_dim);
	uint64_t kvd = vf_mul(a->num_kv_heads, a->head_dim);
	if (a->fused_qkv) {
		st = add_linear(m, VF_ROLE_QKV, h, qd + 2 * kvd, a->qkv_bias, 1,
				1, L, false, err);
	} else {
		st = add_linear(m, VF_ROLE_Q, h, qd, a->qkv_bias, 1, 1, L,
				false, err);
		if (!st)
			st = add_linear(m, VF_ROLE_K, h, kvd, a->qkv_bias, 1, 1,
					L, false, err);
		if (!st)
			st = add_linear(m, VF_ROLE_V, h, kvd, a->qkv_bias, 1, 1,
					L, false, err);
	}
	if (st)
		return st;
	return add_linear(m, VF_ROLE_O, qd, h, a->o_bias, 1, 1, L, false, err);
}

/* One MLP of width `inter` on `layers` layers, `copies` of it per layer. */
static vf_status add_mlp(vf_model *m, uint64_t inter, uint64_t copies,
			 uint64_t active, uint64_t layers, bool expert,
			 vf_error *err)
{
	const vf_arch *a = &m->arch;
	uint64_t h = a->hidden_size;
	bool b = a->mlp_bias && !expert;
	vf_status st;

	if (a->mlp == VF_MLP_PLAIN) {
		st = add_linear(m, VF_ROLE_FC1, h, inter, b, copies, active,
				layers, expert, err);
		if (!st)
			st = add_linear(m, VF_ROLE_FC2, inter, h, b, copies,
					active, layers, expert, err);
		return st;
	}
	if (a->fused_gate_up)
		st = add_linear(m, VF_ROLE_GATE_UP, h, 2 * inter, b, copies,
				active, layers, expert, err);
	else {
		st = add_linear(m, VF_ROLE_GATE, h, inter, b, copies, active,
				layers, expert, err);
		if (!st)
			st = add_linear(m, VF_ROLE_UP, h, inter, b, copies,
					active, layers, expert, err);
	}
	if (!st)
		st = add_linear(m, VF_ROLE_DOWN, inter, h, b, copies, active,
				layers, expert, err);
	return st;
}

static vf_status add_mlps(vf_model *m, vf_error *err)
{
	const vf_arch *a = &m->arch;
	uint64_t L = a->num_layers;
	vf_status st;

	if (a->num_experts == 0)
		return add_mlp(m, a->intermediate_size, 1, 1, L, false, err);

	uint64_t dense = vf_min(a->first_dense_layers, L), moe = L - dense;
	st = add_mlp(m, a->intermediate_size, 1, 1, dense, false, err);
	if (!st)
		st = add_linear(m, VF_ROLE_ROUTER, a->hidden_size,
				a->num_experts, false, 1, 1, moe, false, err);
	if (!st)
		st = add_mlp(m, a->expert_intermediate_size, a->num_experts,
			     a->experts_per_token, moe, true, err);
	if (!st && a->shared_expert_intermediate_size)
		st = add_mlp(m, a->shared_expert_intermediate_size, 1, 1, moe,
			     false, err);
	if (!st && a->shared_expert_gate)
		st = add_linear(m, VF_ROLE_ROUTER, a->hidden_size, 1, false, 1,
				1, moe, false, err);
	return st;
}

static vf_status check_arch(const char *name, const vf_arch *a, vf_error *err)
{
	struct {
		const char *what;
		uint64_t v;
		bool required;
	} dims[] = {
		{"vocab_size", a->vocab_size, true},
		{"hidden_size", a->hidden_size, true},
		{"num_layers", a->num_layers, true},
		{"num_heads", a->num_heads, true},
		{"num_kv_heads", a->num_kv_heads, true},
		{"head_dim", a->head_dim, true},
		{"intermediate_size", a->intermediate_size,
		 a->num_experts == 0 || a->first_dense_layers > 0},
		{"expert_intermediate_size", a->expert_intermediate_size,
		 a->num_experts > 0},
	};
	for (size_t i = 0; i < VF_ARRAY_LEN(dims); i++) {
		if (dims[i].required && dims[i].v == 0)
			return vf_fail(err, VF_EINVAL,
				       "model %s: %s must be positive", name,
				       dims[i].what);
		if (dims[i].v > VF_MAX_DIM)
			return vf_fail(err, VF_EINVAL,
				       "model %s: %s %llu is larger than %llu",
				       name, dims[i].what,
				       (unsigned long long)dims[i].v,
				       (unsigned long long)VF_MAX_DIM);
	}
	if (a->num_layers > VF_MAX_LAYERS)
		return vf_fail(err, VF_EINVAL,
			       "model %s: %llu layers is more than %llu", name,
			       (unsigned long long)a->num_layers, VF_MAX_LAYERS);
	if (a->num_kv_heads > a->num_heads || a->num_heads % a->num_kv_heads)
		return vf_fail(err, VF_EINVAL,
			       "model %s: %llu key/value heads do not divide %llu "
			       "query heads",
			       name, (unsigned long long)a->num_kv_heads,
			       (unsigned long long)a->num_heads);
	if (a->num_experts && (a->experts_per_token == 0 ||
			       a->experts_per_token > a->num_experts))
		return vf_fail(err, VF_EINVAL,
			       "model %s: experts per token must be 1..%llu",
			       name, (unsigned long long)a->num_experts);
	if ((unsigned)a->mlp >= VF_MLP_KIND_COUNT ||
	    (unsigned)a->norm >= VF_NORM_KIND_COUNT ||
	    (unsigned)a->dtype >= VF_DTYPE_COUNT)
		return vf_fail(err, VF_EINVAL, "model %s: bad enum value", name);
	return VF_OK;
}

vf_status vf_model_init(vf_model *m, const char *name, const vf_arch *arch,
			vf_error *err)
{
	memset(m, 0, sizeof *m);
	vf_strlcpy(m->name, name ? name : "custom", sizeof m->name);
	m->arch = *arch;
	vf_status st = check_arch(m->name, arch, err);
	if (st)
		return st;

	const vf_arch *a = &m->arch;
	uint64_t h = a->hidden_size, L = a->num_layers;
	st = add_attention(m, err);
	if (!st)
		st = add_mlps(m, err);
	if (st)
		return st;

	vf_param_counts *p = &m->params;
	p->embed = vf_mul(a->vocab_size, h);
	p->positions = vf_mul(a->max_positions, h);
	p->lm_head = a->tie_embeddings
			     ? 0
			     : vf_add(vf_mul(a->vocab_size, h),
				      a->lm_head_bias ? a->vocab_size : 0);
	for (unsigned i = 0; i < m->n_linears; i++) {
		const vf_linear *l = &m->linears[i];
		uint64_t n = linear_params(l);
		uint64_t *slot;
		switch (l->role) {
		case VF_ROLE_Q: case VF_ROLE_K: case VF_ROLE_V:
		case VF_ROLE_QKV: case VF_ROLE_O:
			slot = &p->attention;
			break;
		case VF_ROLE_ROUTER:
			slot = &p->router;
			break;
		default:
			slot = l->expert ? &p->experts : &p->mlp;
			break;
		}
		*slot = vf_add(*slot, n);
		m->largest_linear = vf_max(m->largest_linear,
					   vf_mul(l->in_features, l->out_features));
	}

	/* Norms: per layer, the final norm, q/k norms, MLA latent norms. */
	uint64_t norms = vf_mul3(a->norms_per_layer, norm_params(a->norm, h), L);
	norms = vf_add(norms, norm_params(a->norm, h));
	if (a->qk_norm)
		norms = vf_add(norms, vf_mul3(2, a->head_dim, L));
	if (a->qk_norm_full)
		norms = vf_add(norms,
			       vf_mul(L, vf_mul(a->num_heads + a->num_kv_heads,
						a->head_dim)));
	if (a->kv_lora_rank)
		norms = vf_add(norms, vf_mul(L, a->q_lora_rank + a->kv_lora_rank));
	p->norms = norms;

	uint64_t total = 0;
	const uint64_t parts[] = {p->embed, p->positions, p->attention, p->mlp,
				  p->experts, p->router, p->norms, p->lm_head};
	for (size_t i = 0; i < VF_ARRAY_LEN(parts); i++)
		total = vf_add(total, parts[i]);
	p->total = total;
	if (total >= VF_MAX_PARAMS)
		return vf_fail(err, VF_EINVAL,
			       "model %s: %llu parameters; vramfit models up to "
			       "1e12 (1 trillion)",
			       m->name, (unsigned long long)total);
	return VF_OK;
}
