/*
 * estimate.c - the memory model: walk one training step in phases, track
 * what is live in each, and report the peak at three levels (allocated,
 * reserved, process). Every constant is explained in docs/memory-model.md,
 * whose section names appear below as [MM §n].
 *
 * Symbols used in the formulas (vf_term.formula):
 *   T tokens per micro-batch (b*s, doubled for paired preference data),
 *   h hidden, I intermediate, V vocab, L layers, a heads, kv kv-heads,
 *   d head dim, r LoRA rank, N GPUs sharing a shard, P parameters,
 *   Pt trainable parameters, ab activation bytes, wb weight bytes.
 */
#include "profile.h"

#include <string.h>

#define MiB (1024ull * 1024ull)

/* [MM §1.7] cuBLAS workspace per (handle, stream): 4096*1024*2 + 16*1024*8
 * bytes, 32 MiB on sm90; two handles (forward and autograd threads). */
#define CUBLAS_WORKSPACE (4096ull * 1024 * 2 + 16ull * 1024 * 8)
#define CUBLAS_WORKSPACE_SM90 (32ull * MiB)
#define CUBLAS_HANDLES 2
/* [MM §1.6] CUDA context with lazy module loading (CUDA >= 11.7), after
 * the kernels of a training step are loaded. */
#define CUDA_CONTEXT_BYTES (500ull * MiB)
/* [MM §1.6] NCCL communicator buffers, one communicator. */
#define NCCL_BYTES (600ull * MiB)
/* [MM §1.2] large blocks are rounded to 2 MiB segments; a tensor holds on
 * average half a segment-rounding of slack. */
#define ROUNDING_SLACK_PER_TENSOR (1ull * MiB)
/* [MM §1.5] cached-but-free blocks with fixed shapes: 3-5 % of the
 * transient peak (peft#1469). */
#define FRAG_PERCENT 4
/* [MM §5.4] bitsandbytes: tensors under 4096 elements keep fp32 states;
 * paged buffers only for tensors of at least 1e5 elements; 8-bit states
 * have one fp32 absmax per 256-element block (bnb >= 0.44). */
#define BNB_MIN_8BIT 4096ull
#define BNB_MIN_PAGED 100000ull
#define BNB_BLOCK 256ull
/* [MM §5.1] 4-bit blocks of 64 weights with an fp32 absmax; with double
 * quantization the absmax is 8-bit, with an fp32 constant per 256 blocks. */
#define NF4_BLOCK 64ull
#define NF4_DQ_BLOCK2 256ull
/* [MM §2.3] TRL chunked_nll and fused linear CE chunk rows. */
#define FUSED_CE_ROWS 256ull

typedef struct ctx {
	const vf_model *m;
	const vf_arch *a;
	const vf_run *r;
	const vf_profile *p;
	vf_estimate *out;
	uint64_t T;          /* tokens in one micro-batch through the policy */
	unsigned ab;         /* activation / compute bytes */
	unsigned wb;         /* bytes of unquantized weights */
	unsigned rb;         /* residual stream / checkpoint bytes */
	unsigned adb;        /* adapter parameter bytes */
	unsigned gb;         /* gradient bytes of trainable params */
	unsigned ob;         /* bytes of the params the optimizer updates */
	bool amp;            /* autocast over fp32 weights */
	bool ds_master;      /* DeepSpeed 16-bit engine: fp32 master partition */
	bool full;           /* every weight trainable */
	bool adapters;
	uint64_t shard;      /* GPUs sharing parameter shards */
	uint64_t grad_shard; /* ... gradient shards */
	uint64_t opt_shard;  /* ... optimizer state shards */
	uint64_t live_tensors; /* large tensors live at the peak */
} ctx;

static uint64_t term(ctx *c, vf_component comp, const char *label,
		     const char *formula, uint64_t bytes)
{
	vf_estimate *e = c->out;
	if (e->n_terms < VF_MAX_TERMS)
		e->terms[e->n_terms++] = (vf_term){comp, label, formula, bytes};
	return bytes;
}

/* Bytes of one quantized matrix of n elements with `out` rows. */
static uint64_t quant_bytes(vf_quant q, uint64_t n, uint64_t out)
{
	uint64_t blocks = vf_div_ceil(n, NF4_BLOCK);
	switch (q) {
	case VF_QUANT_NF4:
	case VF_QUANT_FP4:
		return vf_add(vf_div_ceil(n, 2), vf_mul(blocks, 4));
	case VF_QUANT_NF4_DQ:
	case VF_QUANT_FP4_DQ:
		return vf_add(vf_add(vf_div_ceil(n, 2), blocks),
			      vf_mul(vf_div_ceil(blocks, NF4_DQ_BLOCK2), 4));
	case VF_QUANT_INT8: /* [MM §5.3] int8 data + fp32 scale per row */
		return vf_add(n, vf_mul(out, 4));
	default:
		return n;
	}
}

/* Base weights: quantized linears (not the router) plus everything else. */
static uint64_t weights_bytes(ctx *c, uint64_t *quantized_params)
{
	uint64_t qbytes = 0, qparams = 0;
	if (c->r->quant != VF_QUANT_NONE) {
		for (unsigned i = 0; i < c->m->n_linears; i++) {
			const vf_linear *l = &c->m->linears[i];
			if (l->role == VF_ROLE_ROUTER)
				continue;
			uint64_t n = vf_mul(l->in_features, l->out_features);
			uint64_t copies = vf_mul(l->per_layer, l->layers);
			qparams = vf_add(qparams, vf_mul(n, copies));
			qbytes = vf_add(qbytes,
					vf_mul(quant_bytes(c->r->quant, n,
							   l->out_features),
					       copies));
		}
	}
	*quantized_params = qparams;
	uint64_t rest = vf_sub_floor(c->m->params.total, qparams);
	return vf_add(qbytes, vf_mul(rest, c->wb));
}

/* LoRA parameters per targeted module: r*(in+out) (+out magnitude, DoRA). */
static uint64_t adapter_params(ctx *c)
{
	const vf_run *r = c->r;
	uint64_t n = 0;
	for (unsigned i = 0; i < c->m->n_linears; i++) {
		const vf_linear *l = &c->m->linears[i];
		if (!(r->lora.targets & VF_TARGET(l->role)))
			continue;
		uint64_t one = vf_mul(r->lora.r, l->in_features + l->out_features);
		if (r->method == VF_METHOD_DORA)
			one = vf_add(one, l->out_features);
		n = vf_add(n, vf_mul3(one, l->per_layer, l->layers));
	}
	uint64_t hv = c->a->vocab_size + c->a->hidden_size;
	if (r->lora.targets & VF_TARGET(VF_ROLE_EMBED))
		n = vf_add(n, vf_mul(r->lora.r, hv));
	if (r->lora.targets & VF_TARGET(VF_ROLE_LM_HEAD))
		n = vf_add(n, vf_mul(r->lora.r, hv));
	return n;
}

/*
 * Optimizer states of one trainable tensor of n elements held in `pb`
 * bytes; *paged gets the part bitsandbytes keeps in managed memory.
 */
static uint64_t state_bytes(vf_optimizer o, uint64_t n, unsigned pb,
			    uint64_t rows, uint64_t cols, uint64_t *paged)
{
	uint64_t b8 = vf_add(vf_mul(n, 2), vf_mul(vf_div_ceil(n, BNB_BLOCK), 8));
	uint64_t b8one = vf_add(n, vf_mul(vf_div_ceil(n, BNB_BLOCK), 4));
	uint64_t v;
	switch (o) {
	case VF_OPTIM_ADAMW:
	case VF_OPTIM_ADAMW_FUSED:
	case VF_OPTIM_ADAM:
		return vf_mul3(n, 2, pb); /* exp_avg, exp_avg_sq like p */
	case VF_OPTIM_ADAMW_8BIT:
	case VF_OPTIM_ADAM_8BIT:
		return n < BNB_MIN_8BIT ? vf_mul(n, 8) : b8;
	case VF_OPTIM_PAGED_ADAMW:
		v = vf_mul(n, 8); /* 32-bit bnb states are fp32 */
		break;
	case VF_OPTIM_PAGED_ADAMW_8BIT:
		v = n < BNB_MIN_8BIT ? vf_mul(n, 8) : b8;
		break;
	case VF_OPTIM_ADAFACTOR:
		/* factored second moment for matrices, full for vectors; no
		 * first moment (beta1=None default) [MM §6] */
		return rows > 1 && cols > 1 ? vf_mul(rows + cols, 4)
					    : vf_mul(n, 4);
	case VF_OPTIM_SGD:
		return 0;
	case VF_OPTIM_SGD_MOMENTUM:
	case VF_OPTIM_LION:
		return vf_mul(n, pb);
	case VF_OPTIM_LION_8BIT:
		return n < BNB_MIN_8BIT ? vf_mul(n, 4) : b8one;
	default:
		return 0;
	}
	if (n >= BNB_MIN_PAGED) {
		*paged = vf_add(*paged, v);
		return 0;
	}
	return v;
}

typedef struct opt_sum {
	uint64_t torch;   /* states in the torch allocator */
	uint64_t paged;   /* states in bnb managed memory */
	uint64_t largest; /* largest trainable tensor, elements */
} opt_sum;

static void opt_add(opt_sum *s, vf_optimizer o, uint64_t n, uint64_t copies,
		    unsigned pb, uint64_t rows, uint64_t cols)
{
	uint64_t paged = 0;
	uint64_t one = state_bytes(o, n, pb, rows, cols, &paged);
	s->torch = vf_add(s->torch, vf_mul(one, copies));
	s->paged = vf_add(s->paged, vf_mul(paged, copies));
	s->largest = vf_max(s->largest, n);
}

/* Walk the trainable tensors with their shapes. */
static opt_sum optimizer_states(ctx *c)
{
	const vf_run *r = c->r;
	const vf_arch *a = c->a;
	opt_sum s = {0};
	vf_optimizer o = r->optimizer;
	unsigned pb = c->ob;
	if (c->full) {
		for (unsigned i = 0; i < c->m->n_linears; i++) {
			const vf_linear *l = &c->m->linears[i];
			uint64_t copies = vf_mul(l->per_layer, l->layers);
			opt_add(&s, o, vf_mul(l->in_features, l->out_features),
				copies, pb, l->out_features, l->in_features);
			if (l->bias)
				opt_add(&s, o, l->out_features, copies, pb, 1,
					l->out_features);
		}
		opt_add(&s, o, c->m->params.embed, 1, pb, a->vocab_size,
			a->hidden_size);
		if (c->m->params.lm_head)
			opt_add(&s, o, vf_mul(a->vocab_size, a->hidden_size), 1,
				pb, a->vocab_size, a->hidden_size);
		if (c->m->params.positions)
			opt_add(&s, o, c->m->params.positions, 1, pb,
				a->max_positions, a->hidden_size);
		/* norms: vectors of width h */
		opt_add(&s, o, a->hidden_size,
			vf_div_ceil(c->m->params.norms, a->hidden_size), pb, 1,
			a->hidden_size);
		return s;
	}
	for (unsigned i = 0; i < c->m->n_linears; i++) {
		const vf_linear *l = &c->m->linears[i];
		if (!(r->lora.targets & VF_TARGET(l->role)))
			continue;
		uint64_t copies = vf_mul(l->per_layer, l->layers);
		opt_add(&s, o, vf_mul(r->lora.r, l->in_features), copies, pb,
			r->lora.r, l->in_features);
		opt_add(&s, o, vf_mul(r->lora.r, l->out_features), copies, pb,
			l->out_features, r->lora.r);
		if (r->method == VF_METHOD_DORA)
			opt_add(&s, o, l->out_features, copies, pb, 1,
				l->out_features);
	}
	return s;
}

/* Saved activation bytes per token for one decoder layer [MM §2.7, §3]. */
typedef struct layer_acts {
	uint64_t saved;     /* saved for backward, per token */
	uint64_t input;     /* the layer input (checkpoint), per token */
	uint64_t transient; /* forward temporaries of one layer, per token */
	uint64_t bwd_tmp;   /* backward temporaries of one layer, per token */
	uint64_t per_seq;   /* per token terms that scale with s (eager) */
	uint64_t selective; /* saved under selective op checkpointing */
} layer_acts;

static layer_acts layer_activations(ctx *c)
{
	const vf_arch *a = c->a;
	const vf_run *r = c->r;
	uint64_t h = a->hidden_size, I = a->intermediate_size;
	uint64_t qd = a->num_heads * a->head_dim;
	uint64_t kvd = a->num_kv_heads * a->head_dim;
	unsigned ab = c->ab;
	layer_acts la = {0};
	bool gqa_repeat = r->attention == VF_ATTN_EAGER ||
			  r->attention == VF_ATTN_SDPA;
	if (a->kv_lora_rank) {
		qd = a->num_heads * (a->qk_nope_head_dim + a->qk_rope_head_dim);
		kvd = qd;
	}
	uint64_t kv_saved = gqa_repeat ? qd : kvd;

	/* Norms: RMSNorm saves its fp32 input (and the normalized tensor
	 * when its weight trains); LayerNorm saves its input, in fp32 under
	 * autocast. */
	uint64_t norm_in = a->norm == VF_NORM_RMS ? 4 : (c->amp ? 4 : ab);
	uint64_t norm_one = vf_mul(norm_in, h);
	if (c->full && a->norm == VF_NORM_RMS)
		norm_one = vf_add(norm_one, vf_mul(ab, h));
	la.saved = vf_mul(norm_one, a->norms_per_layer);

	/* Attention core: Q, K, V, O and the fp32 logsumexp. */
	la.saved = vf_add(la.saved,
			  vf_mul(ab, qd + 2 * kv_saved + (a->kv_lora_rank
							       ? a->num_heads * a->v_head_dim
							       : qd)));
	la.saved = vf_add(la.saved, vf_mul(4, a->num_heads));
	if (r->attention == VF_ATTN_EAGER)
		/* fp32 softmax output + probabilities in the compute dtype,
		 * a*s per token [MM §2.5] */
		la.per_seq = vf_mul(4 + ab, a->num_heads);

	/* MLP intermediates. Experts: top-k of them per token. */
	uint64_t k = 1, Im = I;
	if (a->num_experts) {
		k = a->experts_per_token;
		Im = a->expert_intermediate_size;
		/* router probabilities in fp32 */
		la.saved = vf_add(la.saved, vf_mul(4, a->num_experts));
	}
	uint64_t mlp_elems = a->mlp == VF_MLP_GATED ? 3 : 1; /* G,S,U | gelu in */
	la.saved = vf_add(la.saved, vf_mul3(ab, mlp_elems, vf_mul(Im, k)));
	if (a->shared_expert_intermediate_size)
		la.saved = vf_add(la.saved,
				  vf_mul3(ab, mlp_elems,
					  a->shared_expert_intermediate_size));

	/* Inputs of trainable linears (full fine-tuning). Under autocast over
	 * fp32 weights each linear saves its own bf16 cast of its input. A
	 * quantized base keeps them too where bitsandbytes stores its input
	 * A in ctx.tensors: LLM.int8 always, 4-bit before 0.43.2 [MM §5.2,
	 * §5.3]. */
	bool four_bit = r->quant != VF_QUANT_NONE && r->quant != VF_QUANT_INT8;
	bool base_saves = r->quant == VF_QUANT_INT8 ||
			  (four_bit && c->p->bnb4_saves_input);
	if (c->full || c->p->frozen_saves_inputs || base_saves) {
		uint64_t qkv_users = a->fused_qkv ? 1 : 3;
		uint64_t up_users = a->mlp == VF_MLP_GATED && !a->fused_gate_up ? 2 : 1;
		uint64_t copies = c->amp ? qkv_users + up_users : 2;
		if (a->parallel_block && !c->amp)
			copies = 1; /* one norm output feeds both */
		la.saved = vf_add(la.saved, vf_mul3(ab, h, copies));
		/* down / fc2 input */
		la.saved = vf_add(la.saved, vf_mul3(ab, Im, k));
		if (a->shared_expert_intermediate_size)
			la.saved = vf_add(la.saved,
					  vf_mul(ab, a->shared_expert_intermediate_size));
	}

	/* LoRA: each adapted module saves what its lora_A reads [MM §4]. */
	if (c->adapters) {
		bool cast = c->adb != ab;
		unsigned in_b = cast ? (c->amp ? 2 : c->adb) : ab;
		bool dropout = r->lora.dropout > 0;
		bool shared_qkv_input = false, shared_mlp_input = false;
		bool fused_input_counted = false;
		for (unsigned i = 0; i < c->m->n_linears; i++) {
			const vf_linear *l = &c->m->linears[i];
			if (!(r->lora.targets & VF_TARGET(l->role)))
				continue;
			uint64_t act = l->active_per_token;
			uint64_t in = l->in_features;
			uint64_t per = 0;
			bool qkv_in = l->role == VF_ROLE_Q || l->role == VF_ROLE_K ||
				      l->role == VF_ROLE_V || l->role == VF_ROLE_QKV;
			bool mlp_in = l->role == VF_ROLE_GATE ||
				      l->role == VF_ROLE_UP ||
				      l->role == VF_ROLE_GATE_UP ||
				      l->role == VF_ROLE_FC1;
			/* litgpt adapts its fused qkv linear with one lora_A:
			 * q, k and v adapters read one dropout output. */
			bool fused = qkv_in && c->p->lora_fused_qkv;
			if (fused && fused_input_counted) {
				per = 0;
			} else if (dropout) {
				per = vf_mul(in_b + 1, in); /* output + bool mask */
				fused_input_counted = fused;
			} else if (cast) {
				per = vf_mul(in_b, in);
				fused_input_counted = fused;
			} else if (qkv_in && !shared_qkv_input) {
				per = vf_mul(ab, in); /* norm output, kept once */
				shared_qkv_input = true;
			} else if (mlp_in && !shared_mlp_input) {
				per = vf_mul(ab, in);
				shared_mlp_input = true;
			} else if (!qkv_in && !mlp_in && l->role != VF_ROLE_O) {
				per = vf_mul(ab, in); /* down input P */
			}
			per = vf_add(per, vf_mul(c->adb, r->lora.r));
			if (r->method == VF_METHOD_DORA)
				per = vf_add(per, vf_mul(ab, l->out_features));
			la.saved = vf_add(la.saved, vf_mul(per, act));
		}
	}

	la.input = vf_mul(c->rb, h);
	/* torchtitan selective op AC [MM §2.4]: the policy saves the
	 * attention kernel's output and logsumexp and every second matmul
	 * output (q, k, v, o, w1, w3, w2 in turn); the rest is recomputed. */
	uint64_t mlp_mm = a->mlp == VF_MLP_GATED ? 2 : 1; /* w1, w3 | fc1 */
	uint64_t mm_out = qd + 2 * kvd + h + vf_mul3(mlp_mm, Im, k) + h;
	la.selective = vf_add(vf_add(la.input, vf_mul(ab, qd)),
			      vf_add(vf_mul(4, a->num_heads),
				     vf_mul(ab, mm_out) / 2));
	/* One layer's forward temporaries: the widest projection output
	 * before it is consumed (gate and up outputs, qkv before split). */
	la.transient = vf_mul3(ab, vf_max(2 * Im * k, qd + 2 * kvd), 1);
	/* Backward of one layer: gradients of its widest intermediates
	 * (dG, dU, dS) and, for flash attention, dq/dk/dv with the fp32
	 * dq accumulator [MM §2.5]. */
	uint64_t attn_bwd = vf_add(vf_mul(ab, qd + 2 * kv_saved), vf_mul(4, qd));
	la.bwd_tmp = vf_max(vf_mul3(ab, mlp_elems, vf_mul(Im, k)), attn_bwd);
	return la;
}

/* Logits and loss bytes at the end of forward and the start of backward. */
static void logits_bytes(ctx *c, uint64_t tokens, uint64_t *fwd, uint64_t *bwd)
{
	const vf_profile *p = c->p;
	uint64_t TV = vf_mul(tokens, c->a->vocab_size);
	uint64_t l = c->ab;
	uint64_t u = p->logits == VF_LOGITS_NATIVE ? l : 4;
	uint64_t upcast_tmp = u != l ? u : 0;
	uint64_t amp_copy = p->amp_logits_fp32_copy && l != 4 ? 4 : 0;
	uint64_t keep = p->keeps_logits_in_backward ? l : 0;
	/* [MM §2.1] An inductor-compiled loss fuses log_softmax into the
	 * cross-entropy: it saves its input logits and the logsumexp only. */
	if (c->r->compile == 1)
		u = 0, upcast_tmp = 0;

	switch (c->r->loss) {
	case VF_LOSS_CHUNKED: {
		uint64_t n = p->loss_chunks ? p->loss_chunks : 8;
		*fwd = vf_add(vf_mul(TV, l + u), vf_div_ceil(vf_mul(TV, u), n));
		*bwd = vf_add(vf_mul(TV, l + u), vf_div_ceil(vf_mul(TV, 2 * u), n));
		return;
	}
	case VF_LOSS_FUSED: {
		uint64_t rows = vf_min(tokens, FUSED_CE_ROWS);
		uint64_t chunk = vf_mul(rows, c->a->vocab_size);
		*fwd = vf_mul(chunk, l + 2 * u);
		*bwd = vf_mul(chunk, l + 3 * u);
		return;
	}
	default:
		if (p->logits == VF_LOGITS_UPCAST_SHIFTED && c->r->compile != 1) {
			/* fp32 logits in the output, their shifted contiguous
			 * copy and the saved log_softmax [MM §2.1]; the bf16
			 * logits are gone and AMP has nothing to upcast. */
			*fwd = vf_mul(TV, 3 * 4);
			*bwd = vf_mul(TV, 3 * 4 + keep);
			return;
		}
		*fwd = vf_mul(TV, l + u + vf_max(upcast_tmp, amp_copy));
		*bwd = vf_mul(TV, 3 * u + keep);
		return;
	}
}

static bool sharded_params(vf_strategy s)
{
	return s == VF_STRATEGY_FSDP || s == VF_STRATEGY_ZERO3;
}

static void setup(ctx *c)
{
	const vf_run *r = c->r;
	static const unsigned act_bytes[VF_PRECISION_COUNT] = {
		[VF_PRECISION_FP32] = 4, [VF_PRECISION_FP16_MIXED] = 2,
		[VF_PRECISION_BF16_MIXED] = 2, [VF_PRECISION_FP16_TRUE] = 2,
		[VF_PRECISION_BF16_TRUE] = 2,
	};
	static const unsigned weight_bytes[VF_PRECISION_COUNT] = {
		[VF_PRECISION_FP32] = 4, [VF_PRECISION_FP16_MIXED] = 4,
		[VF_PRECISION_BF16_MIXED] = 4, [VF_PRECISION_FP16_TRUE] = 2,
		[VF_PRECISION_BF16_TRUE] = 2,
	};
	c->ab = act_bytes[r->precision];
	c->wb = weight_bytes[r->precision];
	c->amp = r->precision == VF_PRECISION_BF16_MIXED ||
		 r->precision == VF_PRECISION_FP16_MIXED;
	c->full = r->method == VF_METHOD_FULL;
	c->adapters = r->method == VF_METHOD_LORA ||
		      r->method == VF_METHOD_QLORA || r->method == VF_METHOD_DORA;
	/* [MM §4] PEFT upcasts adapters to fp32; litgpt/torchtune keep the
	 * model dtype. */
	c->adb = c->p->adapters_fp32 ? 4 : c->wb;
	/* [MM §4, §2.3] prepare_model_for_kbit_training casts the norms to
	 * fp32 (TRL casts embeddings and lm_head back to bf16), so every norm
	 * output, the 4-bit linears' outputs (bnb follows the input dtype) and
	 * with them the residual stream are fp32. */
	c->rb = r->quant != VF_QUANT_NONE && c->p->kbit_fp32_cast ? 4 : c->ab;
	/* DeepSpeed keeps 16-bit weights on the GPU and the fp32 master in
	 * the optimizer partition [MM §7.1]. */
	bool zero = r->strategy == VF_STRATEGY_ZERO1 ||
		    r->strategy == VF_STRATEGY_ZERO2 ||
		    r->strategy == VF_STRATEGY_ZERO3;
	/* With bf16 or fp16 enabled, DeepSpeed casts the module to 16 bits
	 * and its ZeRO optimizer keeps fp32 partitions of the master weights
	 * (single_partition_of_fp32_groups) and the Adam states, whether the
	 * model was loaded in fp32 or bf16; no torch autocast runs (HF and
	 * accelerate leave mixed precision to the engine) [MM §7.1]. */
	c->ds_master = zero && r->precision != VF_PRECISION_FP32;
	if (c->ds_master) {
		c->wb = 2;
		c->amp = false;
	}
	c->gb = c->full ? c->wb : c->adb;
	/* Optimizer states are shaped like the params the optimizer steps:
	 * the fp32 master partition under DeepSpeed mixed precision (ZeRO's
	 * K = 12: master 4 + Adam 8 bytes per param [MM §7.1]), else the
	 * trainable params themselves (fp32 under autocast). */
	c->ob = c->full ? (c->ds_master ? 4 : c->wb) : c->adb;
	uint64_t n = r->n_gpus ? r->n_gpus : 1;
	c->shard = sharded_params(r->strategy) ? n : 1;
	c->grad_shard = (r->strategy == VF_STRATEGY_ZERO2 ||
			 sharded_params(r->strategy))
				? n
				: 1;
	c->opt_shard = zero || r->strategy == VF_STRATEGY_FSDP ? n : 1;
	uint64_t pair = r->objective == VF_OBJ_DPO || r->objective == VF_OBJ_KTO
				? 2
				: 1;
	c->T = vf_mul3(r->micro_batch, r->seq_len, pair);
}

vf_status vf_estimate_run(const vf_model *m, const vf_run *run_in,
			  vf_estimate *e, vf_error *err)
{
	memset(e, 0, sizeof *e);
	vf_profile profile;
	vf_status st = vf_run_resolve_profile(run_in, m, &e->run, &profile, err);
	if (st)
		return st;
	ctx c = {.m = m, .a = &m->arch, .r = &e->run, .out = e, .p = &profile};
	setup(&c);
	const vf_run *r = c.r;
	const vf_arch *a = c.a;
	uint64_t L = a->num_layers;
	e->tokens = c.T;
	e->params_total = m->params.total;
	bool trains = r->method != VF_METHOD_FROZEN &&
		      r->method != VF_METHOD_INFERENCE;

	/* ---- persistent state ---- */
	uint64_t qparams;
	uint64_t w = weights_bytes(&c, &qparams);
	w = vf_div_ceil(w, c.shard);
	term(&c, VF_COMP_WEIGHTS, "base weights",
	     r->quant != VF_QUANT_NONE ? "quantized linears + (P - Pq)*wb, /N"
				       : "P * wb, /N if sharded",
	     w);
	uint64_t adp = c.adapters ? adapter_params(&c) : 0;
	uint64_t adapters = term(&c, VF_COMP_ADAPTERS, "adapter parameters",
				 "r*(in+out) per adapted module * adb, /N if sharded",
				 vf_div_ceil(vf_mul(adp, c.adb), c.shard));
	uint64_t trainable = c.full ? m->params.total : adp;
	e->params_trainable = trains ? trainable : 0;

	uint64_t grads = 0, states = 0, paged = 0, opt_tmp = 0, master = 0;
	uint64_t host = 0, ddp_bucket = 0;
	if (trains) {
		grads = vf_div_ceil(vf_mul(trainable, c.gb), c.grad_shard);
		if (r->strategy == VF_STRATEGY_FSDP && c.adapters &&
		    c.p->fsdp_flat_grads)
			/* FSDP1 FlatParameter mixing frozen and trainable
			 * params has a gradient for the whole shard [MM §7.3] */
			grads = vf_add(grads, vf_div_ceil(vf_mul(m->params.total,
								 c.wb),
							  c.grad_shard));
		term(&c, VF_COMP_GRADIENTS, "gradients", "Pt * gb, /N if sharded",
		     grads);
		opt_sum os = optimizer_states(&c);
		states = vf_div_ceil(os.torch, c.opt_shard);
		paged = vf_div_ceil(os.paged, c.opt_shard);
		if (c.ds_master && c.full)
			/* fp32 master partition + fp32 grad partition at the
			 * step [MM §7.1] */
			master = vf_div_ceil(vf_mul(trainable, 8), c.opt_shard);
		if (r->offload == VF_OFFLOAD_OPTIMIZER ||
		    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS) {
			host = vf_add(states, vf_add(paged, master));
			states = paged = master = 0;
			/* ZeRO-Offload moves each gradient partition to the
			 * host as its reduce bucket fills: DeepSpeed's own
			 * estimator keeps only the 16-bit params on the GPU
			 * (gpu_mem = 2 * total_params) [MM §7.1]; the buckets
			 * are counted with communication. */
			if (c.ds_master)
				grads = 0;
		}
		term(&c, VF_COMP_OPTIMIZER, "optimizer states",
		     "per trainable tensor, by optimizer; /N if sharded", states);
		if (master)
			term(&c, VF_COMP_MASTER_WEIGHTS,
			     "fp32 master + grad partitions", "8 * Pt / N", master);
		if (paged)
			term(&c, VF_COMP_NON_TORCH, "paged optimizer states",
			     "bnb managed memory (tensors >= 1e5 elements)",
			     paged);
		bool opt_on_host = r->offload == VF_OFFLOAD_OPTIMIZER ||
				   r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS;
		if (opt_on_host)
			/* DeepSpeedCPUAdam steps on the host: no GPU
			 * temporaries at the step; DeepSpeed's own estimator
			 * keeps only the 16-bit params on the GPU [MM §7.1] */
			opt_tmp = 0;
		else if (r->optimizer == VF_OPTIM_ADAMW ||
			 r->optimizer == VF_OPTIM_ADAM)
			/* foreach: sqrt(exp_avg_sq) of the whole group [MM §6] */
			opt_tmp = vf_div_ceil(vf_mul(trainable, c.ob),
					      c.opt_shard);
		else if (r->optimizer == VF_OPTIM_ADAFACTOR)
			opt_tmp = vf_mul(os.largest, 8);
		if (r->strategy == VF_STRATEGY_DDP)
			/* gradient_as_bucket_view=False: buckets copy grads */
			ddp_bucket = vf_mul(trainable, c.gb);
		if (r->optimizer_in_backward)
			grads = vf_div_ceil(vf_mul(os.largest, c.gb), 1);
	}
	if (r->offload == VF_OFFLOAD_PARAMS ||
	    r->offload == VF_OFFLOAD_OPTIMIZER_PARAMS) {
		/* each rank offloads its shard (all of it unsharded) */
		host = vf_add(host, vf_div_ceil(vf_mul(m->params.total, c.wb),
						c.shard));
		w = 0;
	}
	/* Per rank above; the ranks of a run share one host's RAM. */
	e->host_bytes = vf_mul(host, r->n_gpus ? r->n_gpus : 1);

	unsigned ws_handles = CUBLAS_HANDLES;
	bool sm90 = strncmp(r->gpu_name, "h100", 4) == 0 ||
		    strncmp(r->gpu_name, "h200", 4) == 0 ||
		    strncmp(r->gpu_name, "gh200", 5) == 0;
	uint64_t workspace = term(&c, VF_COMP_WORKSPACE, "cuBLAS workspaces",
				  "2 handles * 8.125 MiB (32 MiB on sm90)",
				  vf_mul(ws_handles, sm90 ? CUBLAS_WORKSPACE_SM90
							  : CUBLAS_WORKSPACE));

	/* DPO/KTO with full fine-tuning keep a frozen reference copy. */
	uint64_t reference = 0;
	if (r->objective == VF_OBJ_DPO || r->objective == VF_OBJ_KTO) {
		if (c.full)
			reference = term(&c, VF_COMP_REFERENCE,
					 "reference model", "P * ab, /N",
					 vf_div_ceil(vf_mul(m->params.total, c.ab),
						     c.shard));
	}

	uint64_t persistent = vf_add(vf_add(w, adapters), vf_add(workspace, reference));
	uint64_t live_states = vf_add(states, master);

	/* ---- activations ---- */
	layer_acts la = layer_activations(&c);
	uint64_t T = c.T;
	uint64_t per_layer_tok = vf_add(la.saved, vf_mul(la.per_seq, r->seq_len));
	uint64_t layer_full = vf_mul(per_layer_tok, T);
	uint64_t acts = 0, recompute = 0;
	bool ckpt = r->grad_ckpt == VF_CKPT_ON || r->grad_ckpt == VF_CKPT_OFFLOAD ||
		    r->activation_offload;
	uint64_t every = r->ckpt_every > 1 ? r->ckpt_every : 1;
	if (!trains) {
		acts = 0;
	} else if (ckpt && c.p->ckpt_selective_mm) {
		acts = vf_mul3(la.selective, T, L);
		recompute = layer_full;
		term(&c, VF_COMP_ACTIVATIONS, "selectively checkpointed layers",
		     "L * T * (input + attention out + every other matmul out)",
		     acts);
	} else if (ckpt) {
		uint64_t ck_layers = every > 1 ? L / every : L;
		uint64_t kept = L - ck_layers;
		uint64_t inputs = vf_mul3(la.input, T, ck_layers);
		if (r->grad_ckpt == VF_CKPT_OFFLOAD || r->activation_offload)
			inputs = vf_mul3(la.input, T, vf_min(2, ck_layers));
		acts = vf_add(inputs, vf_mul(layer_full, kept));
		recompute = layer_full;
		term(&c, VF_COMP_ACTIVATIONS, "checkpointed layer inputs",
		     "L * T * h * rb (+ unkept layers in full)", acts);
	} else {
		acts = vf_mul(layer_full, L);
		term(&c, VF_COMP_ACTIVATIONS, "saved activations",
		     "L * T * (per-layer saved bytes per token)", acts);
	}
	/* Embedding output and the final norm. */
	uint64_t outer = trains ? vf_mul(T, vf_mul(a->hidden_size, c.ab + 4)) : 0;
	acts = vf_add(acts, outer);

	uint64_t autocast_copies = 0;
	if (c.amp && trains && !ckpt) {
		uint64_t lin = vf_sub_floor(m->params.total,
					    vf_add(m->params.embed, m->params.norms));
		if (r->quant == VF_QUANT_NONE)
			autocast_copies = term(&c, VF_COMP_MASTER_WEIGHTS,
					       "autocast 16-bit weight copies",
					       "2 * linear params, live fwd->bwd",
					       vf_div_ceil(vf_mul(lin, 2), c.shard));
	}

	uint64_t lg_fwd, lg_bwd;
	logits_bytes(&c, trains ? T : vf_mul(r->micro_batch, r->seq_len), &lg_fwd,
		     &lg_bwd);

	/* Transients of one layer: forward intermediates and a dequantized
	 * 4-bit weight (bnb dequantizes per matmul [MM §5.2]). */
	uint64_t dequant = r->quant != VF_QUANT_NONE
				   ? vf_mul(m->largest_linear, c.ab)
				   : 0;
	uint64_t fwd_tmp = vf_add(vf_mul(la.transient, T), dequant);
	uint64_t bwd_tmp = vf_add(vf_mul(la.bwd_tmp, T), dequant);
	if (trains) {
		term(&c, VF_COMP_LOGITS, "logits and loss, forward",
		     "T * V * bytes of the loss style (docs: Logits and loss)",
		     lg_fwd);
		term(&c, VF_COMP_LOGITS, "logits and loss, backward",
		     "T * V * (3 * upcast bytes + kept logits)", lg_bwd);
		term(&c, VF_COMP_TRANSIENT, "layer temporaries, forward",
		     "T * max(2*I, q + 2*kv) * ab + dequantized weight", fwd_tmp);
		term(&c, VF_COMP_TRANSIENT, "layer temporaries, backward",
		     "T * widest gradients of one layer + dequantized weight",
		     bwd_tmp);
		if (recompute)
			term(&c, VF_COMP_ACTIVATIONS, "recomputed layer",
			     "T * (per-layer saved bytes per token)", recompute);
	}

	/* Sharded parameters are gathered one unit (layer) at a time, two in
	 * flight with prefetch [MM §7.3]. */
	uint64_t gathered = 0;
	if (c.shard > 1) {
		uint64_t layer_params = vf_div_ceil(
			vf_add(m->params.attention,
			       vf_add(m->params.mlp, m->params.experts)),
			L);
		gathered = vf_mul3(layer_params, 2, r->quant != VF_QUANT_NONE ? 1 : 2);
		/* reduce-scatter of one unit's gradients (full precision) */
		if (c.full)
			gathered = vf_add(gathered, vf_mul(layer_params, c.gb));
	}
	uint64_t comm = vf_add(gathered, ddp_bucket);
	if (r->strategy == VF_STRATEGY_ZERO1 || r->strategy == VF_STRATEGY_ZERO2) {
		/* contiguous_gradients bucket of reduce_bucket_size elements
		 * (HF "auto": h*h) [MM §7.2] */
		uint64_t bucket = r->reduce_bucket_elems
					  ? r->reduce_bucket_elems
					  : vf_mul(a->hidden_size, a->hidden_size);
		comm = vf_add(comm, vf_mul(bucket, c.ab));
	}
	if (comm)
		term(&c, VF_COMP_COMM, "communication buffers",
		     "gathered units / DDP buckets / ZeRO bucket", comm);

	/* ---- phases ---- */
	uint64_t accum_grads = r->grad_accum > 1 ? grads : 0;
	uint64_t base = vf_add(persistent, live_states);
	uint64_t ph[VF_PHASE_COUNT] = {0};
	ph[VF_PHASE_LOAD] = vf_add(w, workspace);
	if (trains) {
		ph[VF_PHASE_FORWARD] = vf_add(
			vf_add(base, vf_add(accum_grads, comm)),
			vf_add(vf_add(acts, autocast_copies),
			       vf_max(lg_fwd, fwd_tmp)));
		/* Start of backward: every saved tensor plus the loss
		 * gradients; with checkpointing the recomputed layer. */
		uint64_t start = vf_add(acts, lg_bwd);
		uint64_t during = vf_add(vf_add(acts, recompute), bwd_tmp);
		/* Full FT: as layers finish, gradients replace activations. */
		uint64_t end = vf_add(grads, vf_add(layer_full, bwd_tmp));
		uint64_t bwd = vf_max(vf_add(start, accum_grads),
				      vf_add(during, c.full ? grads / 2 : grads));
		bwd = vf_max(bwd, end);
		ph[VF_PHASE_BACKWARD] = vf_add(
			vf_add(base, vf_add(comm, autocast_copies)), bwd);
		ph[VF_PHASE_OPTIMIZER] = vf_add(vf_add(base, grads),
						vf_add(opt_tmp, ddp_bucket));
	}
	bool evals = r->phases == VF_PHASES_TRAIN_EVAL ||
		     r->phases == VF_PHASES_TRAIN_GENERATE ||
		     r->phases == VF_PHASES_INFERENCE || !trains;
	if (evals && r->method != VF_METHOD_FROZEN) {
		/* Forward without grad: one layer's temporaries, logits, and
		 * for generation a KV cache of the whole sequence [MM §9]. */
		uint64_t bs = vf_mul(r->micro_batch, r->seq_len);
		uint64_t kv = 0;
		if (r->phases == VF_PHASES_TRAIN_GENERATE ||
		    r->phases == VF_PHASES_INFERENCE)
			kv = vf_mul3(vf_mul(2, L),
				     vf_mul(a->num_kv_heads, a->head_dim),
				     vf_mul(bs, c.ab));
		uint64_t lg = vf_mul(bs, vf_mul(a->vocab_size, c.ab + 4));
		ph[VF_PHASE_EVAL] = vf_add(vf_add(persistent, trains ? live_states : 0),
					   vf_add(kv, vf_add(vf_mul(la.transient, bs),
							     vf_add(lg, dequant))));
		if (!trains)
			term(&c, VF_COMP_TRANSIENT, "KV cache and logits",
			     "2*L*kv*d*T*ab + T*V*(ab+4)", vf_add(kv, lg));
	}

	vf_phase peak = VF_PHASE_LOAD;
	for (int i = 0; i < VF_PHASE_COUNT; i++) {
		e->phase_allocated[i] = ph[i];
		if (ph[i] > ph[peak])
			peak = (vf_phase)i;
	}
	e->peak_phase = peak;
	e->peak_allocated = ph[peak];

	/* Components at the peak phase. */
	e->component[VF_COMP_WEIGHTS] = w;
	e->component[VF_COMP_ADAPTERS] = adapters;
	e->component[VF_COMP_WORKSPACE] = workspace;
	e->component[VF_COMP_REFERENCE] = reference;
	e->component[VF_COMP_OPTIMIZER] = states;
	e->component[VF_COMP_NON_TORCH] = paged;
	if (peak == VF_PHASE_FORWARD || peak == VF_PHASE_BACKWARD) {
		e->component[VF_COMP_ACTIVATIONS] = acts;
		e->component[VF_COMP_MASTER_WEIGHTS] = vf_add(master, autocast_copies);
		e->component[VF_COMP_GRADIENTS] =
			peak == VF_PHASE_FORWARD ? accum_grads : grads;
		e->component[VF_COMP_LOGITS] =
			peak == VF_PHASE_FORWARD ? lg_fwd : lg_bwd;
		e->component[VF_COMP_COMM] = comm;
	} else if (peak == VF_PHASE_OPTIMIZER) {
		e->component[VF_COMP_GRADIENTS] = grads;
		e->component[VF_COMP_MASTER_WEIGHTS] = master;
		e->component[VF_COMP_COMM] = ddp_bucket;
	}
	/* Whatever the named parts do not cover is the phase's temporaries. */
	uint64_t named = 0;
	for (int i = 0; i < VF_COMP_COUNT; i++)
		if (i != VF_COMP_NON_TORCH)
			named = vf_add(named, e->component[i]);
	e->component[VF_COMP_TRANSIENT] = vf_sub_floor(e->peak_allocated, named);

	/* ---- allocator and process ---- */
	uint64_t tensors = vf_add(vf_mul(L, 12), vf_mul(m->n_linears, L));
	uint64_t transient = vf_sub_floor(e->peak_allocated, base);
	uint64_t reserve = vf_add(vf_mul(tensors, ROUNDING_SLACK_PER_TENSOR) / 2,
				  vf_mul(transient, FRAG_PERCENT) / 100);
	e->component[VF_COMP_ALLOCATOR] =
		term(&c, VF_COMP_ALLOCATOR, "allocator reserve",
		     "tensors * 0.5 MiB + 4% of transient peak", reserve);
	e->peak_reserved = vf_add(e->peak_allocated, reserve);
	uint64_t context = term(&c, VF_COMP_CUDA_CONTEXT, "CUDA context",
				"500 MiB", CUDA_CONTEXT_BYTES);
	uint64_t nccl = r->n_gpus > 1 ? term(&c, VF_COMP_NON_TORCH, "NCCL",
					      "600 MiB per communicator",
					      NCCL_BYTES)
				      : 0;
	e->component[VF_COMP_CUDA_CONTEXT] = context;
	e->component[VF_COMP_NON_TORCH] = vf_add(paged, nccl);
	e->peak_process = vf_add(vf_add(e->peak_reserved, context),
				 vf_add(paged, nccl));

	if (e->peak_process == VF_BYTES_OVERFLOW)
		return vf_fail(err, VF_EOVERFLOW,
			       "the estimate for %s overflows 64 bits", m->name);
	return VF_OK;
}

vf_status vf_verdict_compute(const vf_estimate *e, uint64_t capacity,
			     uint64_t margin, vf_verdict *out, vf_error *err)
{
	if (margin >= capacity)
		return vf_fail(err, VF_EINVAL,
			       "a safety margin of %llu MiB leaves nothing of "
			       "%llu MiB", (unsigned long long)(margin >> 20),
			       (unsigned long long)(capacity >> 20));
	out->capacity_bytes = capacity;
	out->safety_margin_bytes = margin;
	out->budget_bytes = capacity - margin;
	out->fits = e->peak_process <= out->budget_bytes;
	/* Both sides are below 2^63 (capacity is a GPU's memory, the peak
	 * saturates at UINT64_MAX only on overflow, rejected above). */
	out->headroom_bytes = out->fits
		? (int64_t)(out->budget_bytes - e->peak_process)
		: -(int64_t)(vf_sub_floor(e->peak_process, out->budget_bytes) & INT64_MAX);
	return VF_OK;
}
