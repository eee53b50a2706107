/*
 * check.c - the memory levers of a configuration and the least costly
 * change that makes it fit (docs/check.md).
 *
 * A lever is a row of data: its tier (what it costs besides speed), how
 * many steps it can take and one step as a function of the run. The search
 * walks the tiers in order and, within the first tier that has a fitting
 * combination, takes the fastest one by the speed model; that is "the
 * smallest change, in the order that costs the least".
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* One step of a lever; false when the run cannot take it (not applicable
 * or already at its limit). */
typedef bool (*lever_step)(vf_run *r);
/* Whether the lever means anything for the run (rank without adapters
 * does not); one that means something but cannot step is at its limit. */
typedef bool (*lever_applies)(const vf_run *r);
typedef void (*lever_show)(const vf_run *r, char *buf, size_t size);

static bool adapters(const vf_run *r)
{
	return r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA ||
	       r->method == VF_METHOD_DORA;
}

static bool trains(const vf_run *r)
{
	return r->method != VF_METHOD_INFERENCE && r->method != VF_METHOD_FROZEN;
}

/* Halve the micro-batch (an odd one goes to 1) and multiply the
 * accumulation so the effective batch stays exactly the same. */
static bool step_micro_batch(vf_run *r)
{
	if (r->micro_batch <= 1 || !trains(r))
		return false;
	uint32_t next = r->micro_batch % 2 ? 1 : r->micro_batch / 2;
	uint32_t factor = r->micro_batch / next;
	if (r->grad_accum > UINT32_MAX / factor)
		return false;
	r->grad_accum *= factor;
	r->micro_batch = next;
	return true;
}

static bool step_grad_ckpt(vf_run *r)
{
	if (!trains(r) || r->grad_ckpt == VF_CKPT_OFFLOAD ||
	    (r->grad_ckpt == VF_CKPT_ON && r->ckpt_every <= 1))
		return false;
	r->grad_ckpt = VF_CKPT_ON;
	r->ckpt_every = 0;
	return true;
}

static bool step_optimizer(vf_run *r)
{
	static const vf_optimizer adam_family[] = {
		VF_OPTIM_ADAMW, VF_OPTIM_ADAMW_FUSED, VF_OPTIM_ADAM,
		VF_OPTIM_ADAMW_8BIT, VF_OPTIM_ADAM_8BIT, VF_OPTIM_PAGED_ADAMW};
	if (!trains(r))
		return false;
	for (size_t i = 0; i < VF_ARRAY_LEN(adam_family); i++)
		if (r->optimizer == adam_family[i]) {
			r->optimizer = VF_OPTIM_PAGED_ADAMW_8BIT;
			return true;
		}
	return false;
}

static bool step_bf16(vf_run *r)
{
	if (r->precision != VF_PRECISION_FP32)
		return false;
	r->precision = VF_PRECISION_BF16_MIXED;
	return true;
}

static bool step_quant(vf_run *r)
{
	static const struct { vf_quant from, to; } tighter[] = {
		{VF_QUANT_NONE, VF_QUANT_NF4_DQ}, {VF_QUANT_NF4, VF_QUANT_NF4_DQ},
		{VF_QUANT_FP4, VF_QUANT_FP4_DQ}, {VF_QUANT_INT8, VF_QUANT_NF4_DQ}};
	if (r->method != VF_METHOD_LORA && r->method != VF_METHOD_QLORA)
		return false;
	for (size_t i = 0; i < VF_ARRAY_LEN(tighter); i++)
		if (r->quant == tighter[i].from) {
			r->quant = tighter[i].to;
			r->method = VF_METHOD_QLORA;
			return true;
		}
	return false;
}

/* Shorter samples change what the model learns from: the last resort,
 * and not below 256 tokens. */
static bool step_seq(vf_run *r)
{
	if (r->seq_len < 512)
		return false;
	r->seq_len /= 2;
	return true;
}

static bool step_rank(vf_run *r)
{
	if (!adapters(r) || r->lora.r < 8)
		return false;
	r->lora.r /= 2;
	return true;
}

static void show_micro_batch(const vf_run *r, char *b, size_t n)
{
	snprintf(b, n, "%u x %u", r->micro_batch, r->grad_accum);
}

static void show_grad_ckpt(const vf_run *r, char *b, size_t n)
{
	if (r->grad_ckpt == VF_CKPT_ON && r->ckpt_every > 1)
		snprintf(b, n, "every %u layers", r->ckpt_every);
	else
		snprintf(b, n, "%s", r->grad_ckpt == VF_CKPT_OFF ? "off"
				     : r->grad_ckpt == VF_CKPT_OFFLOAD
					     ? "offloaded"
					     : "every layer");
}

static void show_optimizer(const vf_run *r, char *b, size_t n)
{
	snprintf(b, n, "%s", vf_optimizer_name(r->optimizer));
}

static void show_precision(const vf_run *r, char *b, size_t n)
{
	snprintf(b, n, "%s", vf_precision_name(r->precision));
}

static void show_quant(const vf_run *r, char *b, size_t n)
{
	snprintf(b, n, "%s", r->quant == VF_QUANT_NONE ? "16-bit base"
						       : vf_quant_name(r->quant));
}

static void show_seq(const vf_run *r, char *b, size_t n)
{
	snprintf(b, n, "%u tokens", r->seq_len);
}

static void show_rank(const vf_run *r, char *b, size_t n)
{
	snprintf(b, n, "r=%u", r->lora.r);
}

static bool any_run(const vf_run *r)
{
	(void)r;
	return true;
}

static bool lora_or_qlora(const vf_run *r)
{
	return r->method == VF_METHOD_LORA || r->method == VF_METHOD_QLORA;
}

static const struct lever_row {
	const char *name;
	vf_lever_tier tier;
	unsigned max_steps;
	lever_applies applies;
	lever_step step;
	lever_show show;
} levers[VF_LEVER_COUNT] = {
	[VF_LEVER_MICRO_BATCH] = {"micro-batch x accumulation",
				  VF_TIER_SAME_TRAINING, 12, trains,
				  step_micro_batch, show_micro_batch},
	[VF_LEVER_GRAD_CKPT] = {"gradient checkpointing", VF_TIER_SAME_TRAINING,
				1, trains, step_grad_ckpt, show_grad_ckpt},
	[VF_LEVER_OPTIMIZER] = {"8-bit paged optimizer", VF_TIER_NUMERICS, 1,
				trains, step_optimizer, show_optimizer},
	[VF_LEVER_BF16] = {"bf16", VF_TIER_NUMERICS, 1, any_run, step_bf16,
			   show_precision},
	[VF_LEVER_QUANT] = {"4-bit NF4 base, double quantization",
			    VF_TIER_NUMERICS, 1, lora_or_qlora, step_quant,
			    show_quant},
	[VF_LEVER_SEQ] = {"sequence length", VF_TIER_WHAT_IS_TRAINED, 2,
			  any_run, step_seq, show_seq},
	[VF_LEVER_RANK] = {"LoRA rank", VF_TIER_WHAT_IS_TRAINED, 2, adapters,
			   step_rank, show_rank},
};

const char *vf_lever_name(vf_lever l)
{
	return (unsigned)l < VF_LEVER_COUNT ? levers[l].name : "unknown";
}

vf_lever_tier vf_lever_tier_of(vf_lever l)
{
	return (unsigned)l < VF_LEVER_COUNT ? levers[l].tier
					    : VF_TIER_WHAT_IS_TRAINED;
}

typedef struct search {
	const vf_model *m;
	const vf_gpu_spec *gpu;
	vf_check *out;
	vf_lever_tier tier;
	unsigned steps[VF_LEVER_COUNT];
	vf_estimate cand;
	vf_speed cand_speed;
	unsigned fix_trained_steps; /* steps of the fix on what is trained */
} search;

static unsigned n_changed(const unsigned steps[VF_LEVER_COUNT])
{
	unsigned n = 0;
	for (int i = 0; i < VF_LEVER_COUNT; i++)
		n += steps[i] > 0;
	return n;
}

/* Applies `steps` to the as-is run; false if some step cannot be taken
 * (the combination is the same as a shorter one). */
static bool apply(const vf_run *base, const unsigned steps[VF_LEVER_COUNT],
		  vf_run *out)
{
	*out = *base;
	for (int i = 0; i < VF_LEVER_COUNT; i++)
		for (unsigned k = 0; k < steps[i]; k++)
			if (!levers[i].step(out))
				return false;
	return true;
}

static void try_combination(search *s)
{
	vf_check *c = s->out;
	vf_run r;
	vf_error err;
	if (!apply(&c->est.run, s->steps, &r))
		return;
	c->evaluated++;
	if (vf_estimate_run(s->m, &r, &s->cand, &err) ||
	    s->cand.peak_process > c->budget_bytes ||
	    vf_speed_estimate(s->m, &s->cand, s->gpu, &s->cand_speed, &err))
		return;
	uint32_t mask = 0;
	unsigned trained_steps = 0;
	for (int i = 0; i < VF_LEVER_COUNT; i++) {
		if (s->steps[i])
			mask |= 1u << i;
		if (levers[i].tier == VF_TIER_WHAT_IS_TRAINED)
			trained_steps += s->steps[i];
	}
	if (c->have_fix) {
		double best = c->fix_speed.tokens_per_second;
		double now = s->cand_speed.tokens_per_second;
		unsigned best_n = 0;
		for (int i = 0; i < VF_LEVER_COUNT; i++)
			best_n += (c->fix_levers >> i) & 1u;
		/* Shorter samples or a lower rank change the result: the
		 * fewest such steps first, whatever they gain in speed. */
		if (trained_steps != s->fix_trained_steps) {
			if (trained_steps > s->fix_trained_steps)
				return;
		} else if (now < best ||
			   (now == best && n_changed(s->steps) >= best_n)) {
			/* then faster; at the same speed, fewer levers */
			return;
		}
	}
	s->fix_trained_steps = trained_steps;
	c->have_fix = true;
	c->fix_tier = s->tier;
	c->fix_levers = mask;
	c->fix_est = s->cand;
	c->fix_speed = s->cand_speed;
}

/* Every combination of steps of the levers up to the current tier. */
static void walk(search *s, int lever)
{
	if (lever == VF_LEVER_COUNT) {
		try_combination(s);
		return;
	}
	unsigned max = levers[lever].tier <= s->tier ? levers[lever].max_steps : 0;
	for (unsigned k = 0; k <= max; k++) {
		s->steps[lever] = k;
		vf_run probe;
		if (k && !apply(&s->out->est.run, s->steps, &probe))
			break; /* this lever cannot go further */
		walk(s, lever + 1);
	}
	s->steps[lever] = 0;
}

static void describe_levers(search *s)
{
	vf_check *c = s->out;
	for (int i = 0; i < VF_LEVER_COUNT; i++) {
		vf_lever_state *l = &c->levers[i];
		const vf_run *now = &c->est.run;
		levers[i].show(now, l->current, sizeof l->current);
		vf_run next = *now;
		l->applicable = levers[i].applies(now);
		if (!l->applicable)
			continue;
		if (!levers[i].step(&next)) {
			l->at_limit = true;
			continue;
		}
		levers[i].show(&next, l->next, sizeof l->next);
		vf_error err;
		if (vf_estimate_run(s->m, &next, &s->cand, &err) ||
		    vf_speed_estimate(s->m, &s->cand, s->gpu, &s->cand_speed,
				      &err))
			continue;
		l->saves_bytes = (int64_t)c->est.peak_process -
				 (int64_t)s->cand.peak_process;
		l->speed_ratio = c->speed.tokens_per_second > 0
			? s->cand_speed.tokens_per_second /
				  c->speed.tokens_per_second
			: 1.0;
	}
}

vf_status vf_check_run(const vf_model *model, const vf_run *run,
		       uint64_t budget_bytes, const vf_gpu_spec *gpu,
		       vf_check *out, vf_error *err)
{
	memset(out, 0, sizeof *out);
	vf_status st = vf_estimate_run(model, run, &out->est, err);
	if (st)
		return st;
	if ((st = vf_speed_estimate(model, &out->est, gpu, &out->speed, err)))
		return st;
	out->budget_bytes = budget_bytes;
	out->fits = !budget_bytes || out->est.peak_process <= budget_bytes;
	search s = {.m = model, .gpu = gpu, .out = out};
	describe_levers(&s);
	if (out->fits)
		return VF_OK;
	for (int t = VF_TIER_SAME_TRAINING;
	     t <= VF_TIER_WHAT_IS_TRAINED && !out->have_fix; t++) {
		s.tier = (vf_lever_tier)t;
		walk(&s, 0);
	}
	return VF_OK;
}
