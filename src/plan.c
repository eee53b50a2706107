/*
 * plan.c - the fastest configuration that fits: an exhaustive search over
 * the knobs a run leaves open, with the micro-batch loop cut as soon as a
 * micro-batch does not fit (memory is monotone in it). docs/plan.md.
 */
#include "internal.h"
#include "profile.h"

#include <stdio.h>
#include <string.h>

/* The values each searched knob takes, in the order they are tried. */
static const vf_method methods_all[] = {VF_METHOD_FULL, VF_METHOD_LORA,
					VF_METHOD_QLORA};
static const vf_precision precisions_full[] = {VF_PRECISION_BF16_MIXED,
					       VF_PRECISION_BF16_TRUE};
static const vf_precision precisions_no_bf16[] = {VF_PRECISION_FP16_MIXED};
static const vf_optimizer optimizers[] = {VF_OPTIM_ADAMW, VF_OPTIM_ADAMW_8BIT,
					  VF_OPTIM_PAGED_ADAMW_8BIT};
/* checkpointing: off, every 4th layer, every 2nd, every layer */
static const struct { vf_ckpt mode; uint32_t every; } ckpts[] = {
	{VF_CKPT_OFF, 0}, {VF_CKPT_ON, 4}, {VF_CKPT_ON, 2}, {VF_CKPT_ON, 1}};
static const uint32_t ranks_quality[] = {64, 32, 16, 8};
static const vf_strategy strategies_multi[] = {
	VF_STRATEGY_DDP, VF_STRATEGY_ZERO2, VF_STRATEGY_ZERO3};
/* none; ZeRO-Offload; ZeRO-Infinity (parameters too), when host RAM is
 * given: the strategy follows from the offload (vf_run_resolve) */
static const vf_offload offloads[] = {VF_OFFLOAD_NONE, VF_OFFLOAD_OPTIMIZER,
				      VF_OFFLOAD_OPTIMIZER_PARAMS};

#define MAX_MICRO 64
#define TIE_PCT 3.0
/* "just missed": within 512 MiB of the budget, half the default margin */
#define JUST_MISSED_BYTES (512ull << 20)

/* Higher is better quality: full > LoRA > QLoRA, fp32 master weights,
 * exact optimizer states, higher rank. Speed breaks ties. */
static int quality(const vf_run *r)
{
	static const int method_q[VF_METHOD_COUNT] = {
		[VF_METHOD_FULL] = 300, [VF_METHOD_DORA] = 210,
		[VF_METHOD_LORA] = 200, [VF_METHOD_QLORA] = 100};
	int q = method_q[r->method];
	q += r->precision == VF_PRECISION_BF16_MIXED ? 20 : 0;
	q += r->optimizer == VF_OPTIM_ADAMW ? 10 : 0;
	q += (int)(r->lora.r / 8);
	return q;
}

/* Is a better than b under the preference? */
static bool better(const vf_plan_option *a, const vf_plan_option *b,
		   vf_prefer prefer)
{
	if (prefer == VF_PREFER_CONTEXT &&
	    a->est.run.seq_len != b->est.run.seq_len)
		return a->est.run.seq_len > b->est.run.seq_len;
	if (prefer == VF_PREFER_QUALITY) {
		int qa = quality(&a->est.run), qb = quality(&b->est.run);
		if (qa != qb)
			return qa > qb;
	}
	/* [plan §3] speeds within TIE_PCT are the same speed within the
	 * model's accuracy: quality decides, then speed. */
	double sa = a->speed.tokens_per_second, sb = b->speed.tokens_per_second;
	if (sa < sb * (1 + TIE_PCT / 100) && sb < sa * (1 + TIE_PCT / 100)) {
		int qa = quality(&a->est.run), qb = quality(&b->est.run);
		if (qa != qb)
			return qa > qb;
	}
	return sa > sb;
}

/* Two configurations that differ only in knobs that change neither
 * speed nor the shape of the run (the optimizer's state format) are one
 * alternative: the list shows distinct choices. */
static bool same_shape(const vf_run *a, const vf_run *b)
{
	return a->method == b->method && a->quant == b->quant &&
	       a->precision == b->precision &&
	       a->micro_batch == b->micro_batch && a->seq_len == b->seq_len &&
	       a->grad_ckpt == b->grad_ckpt && a->ckpt_every == b->ckpt_every &&
	       a->strategy == b->strategy && a->offload == b->offload &&
	       a->lora.r == b->lora.r;
}

typedef struct search {
	const vf_model *m;
	const vf_plan_request *req;
	vf_plan *out;
	vf_plan_option cand;      /* scratch: the configuration being tried */
	vf_plan_option near_miss; /* the smallest peak that did not fit */
	bool have_near_miss;
	vf_plan_option just_missed; /* the best that missed by < a margin */
	bool have_just_missed;
	vf_error *err;
} search;

/* Keeps the chosen one and the next best, sorted. */
static void offer(search *s)
{
	vf_plan *p = s->out;
	vf_prefer pref = s->req->prefer;
	if (!p->found) {
		p->chosen = s->cand;
		p->found = true;
		return;
	}
	vf_plan_option loser = s->cand;
	if (better(&s->cand, &p->chosen, pref)) {
		loser = p->chosen;
		p->chosen = s->cand;
	}
	if (same_shape(&loser.est.run, &p->chosen.est.run))
		return;
	for (unsigned k = 0; k < p->n_alternatives; k++) {
		if (!same_shape(&loser.est.run, &p->alternatives[k].est.run))
			continue;
		if (!better(&loser, &p->alternatives[k], pref))
			return;
		/* the better twin replaces it, then is re-sorted below */
		memmove(&p->alternatives[k], &p->alternatives[k + 1],
			(p->n_alternatives - k - 1) * sizeof p->alternatives[0]);
		p->n_alternatives--;
		break;
	}
	/* insert `loser` into the alternatives, best first */
	unsigned n = p->n_alternatives, i = n;
	while (i > 0 && better(&loser, &p->alternatives[i - 1], pref))
		i--;
	if (i >= VF_PLAN_ALTERNATIVES)
		return;
	if (n == VF_PLAN_ALTERNATIVES)
		n--;
	memmove(&p->alternatives[i + 1], &p->alternatives[i],
		(n - i) * sizeof p->alternatives[0]);
	p->alternatives[i] = loser;
	p->n_alternatives = n + 1;
}

/* Estimates s->cand.est.run; false when it does not fit (or is invalid). */
static bool try_one(search *s, vf_run *run)
{
	vf_error err;
	vf_plan_option *c = &s->cand;
	s->out->evaluated++;
	if (vf_estimate_run(s->m, run, &c->est, &err) != VF_OK)
		return false;
	if (s->req->host_ram_bytes && c->est.host_bytes > s->req->host_ram_bytes)
		return false; /* counts as not fitting: offload needs more RAM */
	if (vf_speed_estimate(s->m, &c->est, s->req->gpu, &c->speed, &err))
		return false;
	c->fits = c->est.peak_process <= s->req->budget_bytes;
	c->headroom_bytes = (int64_t)s->req->budget_bytes -
			    (int64_t)c->est.peak_process;
	if (c->fits) {
		offer(s);
		return true;
	}
	if (!s->have_near_miss ||
	    c->est.peak_process < s->near_miss.est.peak_process) {
		/* when nothing fits, show the one closest to fitting */
		s->near_miss = *c;
		s->have_near_miss = true;
	}
	/* one that fits once the user gives up part of the safety margin */
	if (c->headroom_bytes > -(int64_t)JUST_MISSED_BYTES &&
	    (!s->have_just_missed ||
	     better(c, &s->just_missed, s->req->prefer))) {
		s->just_missed = *c;
		s->have_just_missed = true;
	}
	return false;
}

/* The micro-batches that divide the per-GPU batch, ascending. */
static unsigned micro_batches(uint32_t per_gpu, uint32_t pinned,
			      uint32_t out[MAX_MICRO])
{
	unsigned n = 0;
	if (pinned) {
		out[n++] = pinned;
		return n;
	}
	for (uint32_t b = 1; b <= per_gpu && n < MAX_MICRO; b++)
		if (per_gpu % b == 0)
			out[n++] = b;
	return n;
}

/* All knobs but the micro-batch are set in `run`: walk the micro-batches
 * up and stop at the first that does not fit. */
static void walk_micro(search *s, vf_run *run, const uint32_t *mbs,
		       unsigned n_mbs, uint32_t per_gpu)
{
	for (unsigned i = 0; i < n_mbs; i++) {
		run->micro_batch = mbs[i];
		run->grad_accum = per_gpu / mbs[i] ? per_gpu / mbs[i] : 1;
		if (!try_one(s, run)) {
			s->out->pruned += n_mbs - i - 1;
			return;
		}
	}
}

static void search_at_seq(search *s, uint32_t seq, uint32_t per_gpu)
{
	const vf_run *b = &s->req->base;
	uint32_t mbs[MAX_MICRO];
	unsigned n_mbs = micro_batches(per_gpu, b->micro_batch, mbs);
	bool multi = b->n_gpus > 1;
	bool pretrain = b->objective == VF_OBJ_PRETRAIN;
	bool bf16 = !s->req->gpu || s->req->gpu->bf16;
	/* only what the framework's config can say: every k-th layer
	 * checkpointing where it has a knob for it */
	bool every_k = vf_profile_for(b->framework)->ckpt_every_k;

	for (size_t mi = 0; mi < VF_ARRAY_LEN(methods_all); mi++) {
		vf_method method = b->method ? b->method : methods_all[mi];
		if (b->method && mi > 0)
			break;
		if (pretrain && method != VF_METHOD_FULL)
			continue;
		bool adapters = method == VF_METHOD_LORA ||
				method == VF_METHOD_QLORA ||
				method == VF_METHOD_DORA;
		bool quantized = method == VF_METHOD_QLORA ||
				 b->quant != VF_QUANT_NONE;
		if (quantized && s->req->no_quant)
			continue;
		/* precision: full fine-tuning chooses; adapters take the
		 * profile's (a bf16 base with fp32 adapters) */
		const vf_precision *precs = bf16 ? precisions_full : precisions_no_bf16;
		size_t n_prec = bf16 ? VF_ARRAY_LEN(precisions_full) : 1;
		if (b->precision || adapters)
			n_prec = 1;
		for (size_t pi = 0; pi < n_prec; pi++)
		for (size_t oi = 0; oi < (b->optimizer ? 1 : VF_ARRAY_LEN(optimizers)); oi++)
		for (size_t ci = 0; ci < (b->grad_ckpt ? 1 : VF_ARRAY_LEN(ckpts)); ci++)
		for (size_t ri = 0; ri < (adapters && !b->lora.r &&
					  s->req->prefer == VF_PREFER_QUALITY
					  ? VF_ARRAY_LEN(ranks_quality) : 1); ri++)
		for (size_t si = 0; si < (multi && !b->strategy
					  ? VF_ARRAY_LEN(strategies_multi) : 1); si++)
		/* offload is for full fine-tuning: adapters' optimizer
		 * states are small, and DeepSpeed parameter offload of a
		 * 4-bit base is not a supported path */
		for (size_t fi = 0; fi < (b->offload || s->req->host_ram_bytes == 0 ||
					  method != VF_METHOD_FULL
					  ? 1 : VF_ARRAY_LEN(offloads)); fi++) {
			vf_run run = *b;
			run.method = method;
			run.seq_len = seq;
			if (method == VF_METHOD_QLORA && b->quant == VF_QUANT_NONE)
				run.quant = VF_QUANT_NF4_DQ;
			if (!b->precision && !adapters)
				run.precision = precs[pi];
			if (!b->optimizer)
				run.optimizer = optimizers[oi];
			if (!b->grad_ckpt) {
				if (ckpts[ci].every > 1 && !every_k)
					continue;
				run.grad_ckpt = ckpts[ci].mode;
				run.ckpt_every = ckpts[ci].every;
			}
			if (adapters && !b->lora.r)
				run.lora.r = s->req->prefer == VF_PREFER_QUALITY
						     ? ranks_quality[ri] : 16;
			if (multi && !b->strategy)
				run.strategy = strategies_multi[si];
			if (!b->offload)
				run.offload = offloads[fi];
			/* DeepSpeed offloads to its own CPU Adam: bitsandbytes'
			 * 8-bit states do not go to the host */
			if (run.offload != VF_OFFLOAD_NONE &&
			    run.optimizer != VF_OPTIM_ADAMW &&
			    run.optimizer != VF_OPTIM_ADAM)
				continue;
			walk_micro(s, &run, mbs, n_mbs, per_gpu);
		}
	}
}

static void describe(vf_plan_option *alt, const vf_plan_option *chosen,
		     vf_prefer prefer)
{
	if (!alt->fits) {
		snprintf(alt->reason, sizeof alt->reason,
			 "does not fit by %lld MiB",
			 (long long)(-alt->headroom_bytes >> 20) + 1);
		return;
	}
	double a = alt->speed.tokens_per_second;
	double c = chosen->speed.tokens_per_second;
	if (prefer == VF_PREFER_QUALITY &&
	    quality(&alt->est.run) < quality(&chosen->est.run))
		snprintf(alt->reason, sizeof alt->reason,
			 "lower quality (more quantization or a lower rank)");
	else if (prefer == VF_PREFER_CONTEXT &&
		 alt->est.run.seq_len < chosen->est.run.seq_len)
		snprintf(alt->reason, sizeof alt->reason,
			 "shorter sequence (%u tokens)", alt->est.run.seq_len);
	else
		snprintf(alt->reason, sizeof alt->reason, "slower by %.0f%%",
			 c > 0 ? (1 - a / c) * 100 : 0);
}

vf_status vf_plan_search(const vf_model *m, const vf_plan_request *req,
			 vf_plan *out, vf_error *err)
{
	memset(out, 0, sizeof *out);
	if (!req->effective_batch || req->effective_batch > 65536)
		return vf_fail(err, VF_EINVAL,
			       "effective batch must be 1..65536");
	if (!req->max_seq || req->min_seq > req->max_seq)
		return vf_fail(err, VF_EINVAL,
			       "sequence range %u..%u is empty", req->min_seq,
			       req->max_seq);
	if (!req->budget_bytes)
		return vf_fail(err, VF_EINVAL, "no memory budget");
	if ((unsigned)req->prefer >= VF_PREFER_COUNT)
		return vf_fail(err, VF_EINVAL, "unknown preference");
	uint32_t gpus = req->base.n_gpus ? req->base.n_gpus : 1;
	uint32_t per_gpu = req->effective_batch / gpus;
	if (per_gpu == 0)
		per_gpu = 1;
	if (per_gpu * gpus != req->effective_batch)
		snprintf(out->note, sizeof out->note,
			 "effective batch %u is not a multiple of %u GPUs: "
			 "planned %u", req->effective_batch, gpus,
			 per_gpu * gpus);
	if (req->base.micro_batch && per_gpu % req->base.micro_batch)
		return vf_fail(err, VF_EINVAL,
			       "micro-batch %u does not divide the per-GPU "
			       "batch %u", req->base.micro_batch, per_gpu);

	search s = {.m = m, .req = req, .out = out, .err = err};
	/* The longest sequence that fits: from max_seq down by quarters,
	 * rounded to multiples of 64 (kernel-friendly), to min_seq. */
	uint32_t floor_seq = req->min_seq ? req->min_seq : req->max_seq;
	for (uint32_t seq = req->max_seq;;) {
		search_at_seq(&s, seq, per_gpu);
		if (out->found || seq == floor_seq)
			break;
		uint32_t next = seq / 4 * 3 / 64 * 64;
		seq = next < floor_seq || next == seq ? floor_seq : next;
	}
	out->effective_batch = per_gpu * gpus;
	if (!out->found) {
		if (s.have_near_miss) {
			out->chosen = s.near_miss; /* the closest, not fitting */
			describe(&out->chosen, &out->chosen, req->prefer);
		}
		return VF_OK;
	}
	for (unsigned i = 0; i < out->n_alternatives; i++)
		describe(&out->alternatives[i], &out->chosen, req->prefer);
	/* a faster configuration that just missed is worth showing */
	if (s.have_just_missed &&
	    s.just_missed.speed.tokens_per_second >
		    out->chosen.speed.tokens_per_second) {
		unsigned i = out->n_alternatives < VF_PLAN_ALTERNATIVES
				     ? out->n_alternatives++
				     : VF_PLAN_ALTERNATIVES - 1;
		out->alternatives[i] = s.just_missed;
		describe(&out->alternatives[i], &out->chosen, req->prefer);
	}
	return VF_OK;
}
