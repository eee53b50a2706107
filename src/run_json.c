/*
 * run_json.c - the `run` object of the calibration schema (docs/
 * run-schema.md) to and from vf_run. Unknown enum values are rejected,
 * as the schema asks; values the schema knows but vramfit cannot model
 * yet give VF_EUNSUPPORTED with a message naming them.
 */
#include "internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Schema values that exist but that this version does not model. */
static const char *const unsupported_methods[] = {
	"adapter", "adapter_v2", "ia3", "prefix", "prompt", "p_tuning",
	"loha", "lokr", "oft", "boft", "vera", "adalora", "ln_tuning",
	"other-peft", NULL};
static const char *const unsupported_strategies[] = {"hsdp", "tp", "fsdp+tp",
						     "fsdp+cp", NULL};
static const char *const unsupported_quants[] = {"gptq-4bit", "float8", NULL};
static const char *const unsupported_precisions[] = {"fp64", NULL};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* The keys each object of the schema may hold: anything else is a typo
 * or a newer schema, and guessing would estimate a different run. */
static const char *const run_keys[] = {
	"model", "params_b", "method", "precision", "quant", "quant_storage",
	"lora", "micro_batch", "seq_len", "grad_accum", "grad_ckpt",
	"ckpt_every", "attention", "optimizer", "optimizer_in_backward", "loss",
	"packing", "compile", "activation_offload", "parallel", "framework",
	"phases", "gpu", "objective", NULL};
static const char *const lora_keys[] = {"r", "alpha", "dropout", "targets",
					NULL};
static const char *const parallel_keys[] = {"n_gpus", "strategy", "offload",
					    "tp", "cp", NULL};
static const char *const framework_keys[] = {
	"name", "version", "torch", "transformers", "peft", "bitsandbytes",
	NULL};
static const char *const gpu_keys[] = {"name", "memory_gib", NULL};

static vf_status check_keys(json_t *obj, const char *path,
			    const char *const *known, vf_error *err)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return VF_OK;
	json_object_foreach(obj, key, v) {
		if (!in_list(known, key))
			return vf_fail(err, VF_EINVAL, "%s: unknown key \"%s\"",
				       path, key);
	}
	return VF_OK;
}


/* Reads an optional enum string; null leaves *out unchanged. */
static vf_status get_enum(json_t *obj, const char *key,
			  bool (*parse)(const char *, void *), void *out,
			  const char *const *unsupported, vf_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return VF_OK;
	const char *s = json_string_value(v);
	if (!s)
		return vf_fail(err, VF_EINVAL, "run.%s: must be a string", key);
	if (unsupported && in_list(unsupported, s))
		return vf_fail(err, VF_EUNSUPPORTED,
			       "run.%s \"%s\" is not modelled yet", key, s);
	if (!parse(s, out))
		return vf_fail(err, VF_EINVAL, "run.%s: unknown value \"%s\"",
			       key, s);
	return VF_OK;
}

/* Adapters so each typed *_from_name fits one signature. */
#define PARSER(type, fn)                                                       \
	static bool parse_##fn(const char *s, void *out)                       \
	{                                                                      \
		return vf_##fn##_from_name(s, (type *)out);                    \
	}
PARSER(vf_method, method)
PARSER(vf_precision, precision)
PARSER(vf_quant, quant)
PARSER(vf_optimizer, optimizer)
PARSER(vf_attention, attention)
PARSER(vf_loss, loss)
PARSER(vf_strategy, strategy)
PARSER(vf_offload, offload)
PARSER(vf_framework, framework)
PARSER(vf_phases, phases)
PARSER(vf_objective, objective)

static vf_status get_uint(json_t *obj, const char *key, uint32_t max,
			  uint32_t *out, vf_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return VF_OK;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > (json_int_t)max)
		return vf_fail(err, VF_EINVAL,
			       "run.%s: must be an integer from 1 to %u", key,
			       max);
	*out = (uint32_t)json_integer_value(v);
	return VF_OK;
}

static vf_status get_tristate(json_t *obj, const char *key, int8_t *out,
			      vf_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return VF_OK;
	if (!json_is_boolean(v))
		return vf_fail(err, VF_EINVAL, "run.%s: must be true, false or "
			       "null", key);
	*out = json_is_true(v) ? 1 : 0;
	return VF_OK;
}

static vf_status read_lora(json_t *lo, vf_run *r, vf_error *err)
{
	if (!lo || json_is_null(lo))
		return VF_OK;
	if (!json_is_object(lo))
		return vf_fail(err, VF_EINVAL, "run.lora: must be an object");
	vf_status st = get_uint(lo, "r", 1u << 20, &r->lora.r, err);
	if (st)
		return st;
	json_t *v = json_object_get(lo, "alpha");
	if (v && json_is_number(v))
		r->lora.alpha = json_number_value(v);
	v = json_object_get(lo, "dropout");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) >= 1)
			return vf_fail(err, VF_EINVAL,
				       "run.lora.dropout: must be in [0, 1)");
		r->lora.dropout = json_number_value(v);
	}
	json_t *t = json_object_get(lo, "targets");
	if (t && !json_is_null(t)) {
		if (!json_is_array(t) || json_array_size(t) == 0)
			return vf_fail(err, VF_EINVAL,
				       "run.lora.targets: must be a non-empty "
				       "array of names");
		size_t i;
		json_t *e;
		json_array_foreach(t, i, e) {
			vf_targets one;
			const char *s = json_string_value(e);
			if (!s)
				return vf_fail(err, VF_EINVAL,
					       "run.lora.targets[%zu]: must be "
					       "a string", i);
			if ((st = vf_targets_parse(s, &one, err)))
				return st;
			r->lora.targets |= one;
		}
	}
	return VF_OK;
}

/* Package versions: the framework's own "version" where the framework is
 * a package with rules (TRL), and the library versions. The schema allows
 * any text here (commit hashes, "(adapter rows: PR #694)"): what does not
 * read as a version stays unknown rather than failing the row. */
static const struct {
	const char *key;
	vf_package pkg;
} version_keys[] = {
	{"torch", VF_PKG_TORCH},
	{"transformers", VF_PKG_TRANSFORMERS},
	{"peft", VF_PKG_PEFT},
	{"bitsandbytes", VF_PKG_BITSANDBYTES},
};

static void read_versions(json_t *fw, vf_run *r)
{
	if (!json_is_object(fw))
		return;
	for (size_t i = 0; i < VF_ARRAY_LEN(version_keys); i++) {
		uint32_t v;
		if (vf_version_parse(json_string_value(json_object_get(
					     fw, version_keys[i].key)),
				     &v))
			r->versions[version_keys[i].pkg] = v;
	}
	uint32_t v;
	if (r->framework == VF_FW_TRL &&
	    vf_version_parse(json_string_value(json_object_get(fw, "version")),
			     &v))
		r->versions[VF_PKG_TRL] = v;
}

static vf_status read_run(json_t *o, vf_run *r, char *model, size_t msize,
			  vf_error *err)
{
	vf_status st;
	if (!json_is_object(o))
		return vf_fail(err, VF_EINVAL, "run: must be a JSON object");
	const char *name = json_string_value(json_object_get(o, "model"));
	if (model && msize)
		vf_strlcpy(model, name ? name : "", msize);

	if ((st = check_keys(o, "run", run_keys, err)) ||
	    (st = check_keys(json_object_get(o, "lora"), "run.lora", lora_keys,
			     err)) ||
	    (st = check_keys(json_object_get(o, "parallel"), "run.parallel",
			     parallel_keys, err)) ||
	    (st = check_keys(json_object_get(o, "framework"), "run.framework",
			     framework_keys, err)) ||
	    (st = check_keys(json_object_get(o, "gpu"), "run.gpu", gpu_keys,
			     err)))
		return st;
	json_t *fw = json_object_get(o, "framework");
	if (json_is_object(fw) &&
	    (st = get_enum(fw, "name", parse_framework, &r->framework, NULL,
			   err)))
		return st;
	read_versions(fw, r);
	if ((st = get_enum(o, "method", parse_method, &r->method,
			   unsupported_methods, err)) ||
	    (st = get_enum(o, "precision", parse_precision, &r->precision,
			   unsupported_precisions, err)) ||
	    (st = get_enum(o, "quant", parse_quant, &r->quant,
			   unsupported_quants, err)) ||
	    (st = get_enum(o, "attention", parse_attention, &r->attention,
			   NULL, err)) ||
	    (st = get_enum(o, "optimizer", parse_optimizer, &r->optimizer,
			   NULL, err)) ||
	    (st = get_enum(o, "loss", parse_loss, &r->loss, NULL, err)) ||
	    (st = get_enum(o, "phases", parse_phases, &r->phases, NULL, err)) ||
	    (st = get_enum(o, "objective", parse_objective, &r->objective,
			   NULL, err)))
		return st;
	if ((st = read_lora(json_object_get(o, "lora"), r, err)))
		return st;
	if ((st = get_uint(o, "micro_batch", 1u << 20, &r->micro_batch, err)) ||
	    (st = get_uint(o, "seq_len", 1u << 24, &r->seq_len, err)) ||
	    (st = get_uint(o, "grad_accum", 1u << 24, &r->grad_accum, err)) ||
	    (st = get_uint(o, "ckpt_every", 1u << 16, &r->ckpt_every, err)))
		return st;
	json_t *gc = json_object_get(o, "grad_ckpt");
	if (json_is_boolean(gc))
		r->grad_ckpt = json_is_true(gc) ? VF_CKPT_ON : VF_CKPT_OFF;
	else if (json_is_string(gc) &&
		 strcmp(json_string_value(gc), "offload") == 0)
		r->grad_ckpt = VF_CKPT_OFFLOAD;
	else if (gc && !json_is_null(gc))
		return vf_fail(err, VF_EINVAL,
			       "run.grad_ckpt: must be true, false, \"offload\" "
			       "or null");
	if ((st = get_tristate(o, "optimizer_in_backward",
			       &r->optimizer_in_backward, err)) ||
	    (st = get_tristate(o, "packing", &r->packing, err)) ||
	    (st = get_tristate(o, "compile", &r->compile, err)) ||
	    (st = get_tristate(o, "activation_offload", &r->activation_offload,
			       err)))
		return st;

	json_t *par = json_object_get(o, "parallel");
	if (par && !json_is_null(par)) {
		if (!json_is_object(par))
			return vf_fail(err, VF_EINVAL,
				       "run.parallel: must be an object");
		if ((st = get_uint(par, "n_gpus", 1u << 20, &r->n_gpus, err)) ||
		    (st = get_enum(par, "strategy", parse_strategy,
				   &r->strategy, unsupported_strategies, err)) ||
		    (st = get_enum(par, "offload", parse_offload, &r->offload,
				   NULL, err)))
			return st;
		json_t *tp = json_object_get(par, "tp");
		json_t *cp = json_object_get(par, "cp");
		if ((json_is_integer(tp) && json_integer_value(tp) > 1) ||
		    (json_is_integer(cp) && json_integer_value(cp) > 1))
			return vf_fail(err, VF_EUNSUPPORTED,
				       "run.parallel: tensor/context parallelism "
				       "is not modelled yet");
	}
	const char *qs = json_string_value(json_object_get(o, "quant_storage"));
	if (qs && !vf_dtype_from_name(qs, &r->quant_storage))
		return vf_fail(err, VF_EINVAL,
			       "run.quant_storage: unknown dtype \"%s\"", qs);
	json_t *gpu = json_object_get(o, "gpu");
	if (json_is_object(gpu)) {
		const char *g = json_string_value(json_object_get(gpu, "name"));
		if (g)
			vf_strlcpy(r->gpu_name, g, sizeof r->gpu_name);
		json_t *mg = json_object_get(gpu, "memory_gib");
		if (json_is_number(mg)) {
			double gib = json_number_value(mg);
			if (!(gib > 0 && gib < 1e6))
				return vf_fail(err, VF_EINVAL,
					       "run.gpu.memory_gib: must be "
					       "positive");
			r->gpu_memory_gib = gib;
		}
	}
	return VF_OK;
}

vf_status vf_run_from_json_value(vf_run *run, char *model, size_t msize,
				 void *json_obj, vf_error *err)
{
	vf_run_init(run);
	return read_run((json_t *)json_obj, run, model, msize, err);
}

vf_status vf_run_from_json(vf_run *run, char *model, size_t msize,
			   const char *text, size_t len, vf_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (!root)
		return vf_fail(err, VF_EPARSE, "line %d, column %d: %s",
			       jerr.line, jerr.column, jerr.text);
	/* Accept a bare run object, a calibration row, or a plan/estimate
	 * result ({"run": ...} or {"chosen": {"run": ...}}). */
	json_t *o = root;
	json_t *chosen = json_object_get(root, "chosen");
	if (json_is_object(chosen) && json_object_get(chosen, "run"))
		o = json_object_get(chosen, "run");
	else if (json_is_object(json_object_get(root, "run")))
		o = json_object_get(root, "run");
	vf_status st = vf_run_from_json_value(run, model, msize, o, err);
	json_decref(root);
	return st;
}

static json_t *enum_or_null(const char *name, bool set)
{
	return set ? json_string(name) : json_null();
}

static json_t *tristate(int8_t v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static json_t *version_or_null(uint32_t v)
{
	char buf[32];
	if (!v)
		return json_null();
	vf_version_format(v, buf, sizeof buf);
	return json_string(buf);
}

static json_t *uint_or_null(uint32_t v)
{
	return v ? json_integer(v) : json_null();
}

/* Schema order: q, k, v, qkv, o, gate, up, gate_up, down, fc1, fc2,
 * embed, lm_head, all-linear. */
static json_t *targets_json(vf_targets t)
{
	static const vf_role order[] = {
		VF_ROLE_Q,    VF_ROLE_K,       VF_ROLE_V,    VF_ROLE_QKV,
		VF_ROLE_O,    VF_ROLE_GATE,    VF_ROLE_UP,   VF_ROLE_GATE_UP,
		VF_ROLE_DOWN, VF_ROLE_FC1,     VF_ROLE_FC2,  VF_ROLE_EMBED,
		VF_ROLE_LM_HEAD};
	if (!t)
		return json_null();
	json_t *arr = json_array();
	bool all = (t & VF_TARGETS_ALL_LINEAR) == VF_TARGETS_ALL_LINEAR;
	for (size_t i = 0; i < VF_ARRAY_LEN(order); i++) {
		if (all && (VF_TARGET(order[i]) & VF_TARGETS_ALL_LINEAR))
			continue;
		if (t & VF_TARGET(order[i]))
			json_array_append_new(arr,
					      json_string(vf_role_name(order[i])));
	}
	if (all)
		json_array_append_new(arr, json_string("all-linear"));
	return arr;
}

void *vf_run_to_json_value(const vf_run *r, const char *model)
{
	bool adapters = r->method == VF_METHOD_LORA ||
			r->method == VF_METHOD_QLORA || r->method == VF_METHOD_DORA;
	json_t *o = json_object();
	json_object_set_new(o, "model", json_string(model ? model : ""));
	json_object_set_new(o, "params_b", json_null());
	json_object_set_new(o, "method", enum_or_null(vf_method_name(r->method),
						      r->method));
	json_object_set_new(o, "precision",
			    enum_or_null(vf_precision_name(r->precision),
					 r->precision));
	json_object_set_new(o, "quant", enum_or_null(vf_quant_name(r->quant),
						     r->quant != VF_QUANT_NONE));
	json_object_set_new(o, "quant_storage", json_null());
	if (adapters) {
		json_t *lo = json_object();
		json_object_set_new(lo, "r", uint_or_null(r->lora.r));
		json_object_set_new(lo, "alpha", r->lora.alpha > 0
							 ? json_real(r->lora.alpha)
							 : json_null());
		json_object_set_new(lo, "dropout", r->lora.dropout >= 0
							   ? json_real(r->lora.dropout)
							   : json_null());
		json_object_set_new(lo, "targets", targets_json(r->lora.targets));
		json_object_set_new(o, "lora", lo);
	} else {
		json_object_set_new(o, "lora", json_null());
	}
	json_object_set_new(o, "micro_batch", uint_or_null(r->micro_batch));
	json_object_set_new(o, "seq_len", uint_or_null(r->seq_len));
	json_object_set_new(o, "grad_accum", uint_or_null(r->grad_accum));
	json_t *gc = r->grad_ckpt == VF_CKPT_ON	       ? json_true()
		     : r->grad_ckpt == VF_CKPT_OFF     ? json_false()
		     : r->grad_ckpt == VF_CKPT_OFFLOAD ? json_string("offload")
						       : json_null();
	json_object_set_new(o, "grad_ckpt", gc);
	json_object_set_new(o, "attention",
			    enum_or_null(vf_attention_name(r->attention),
					 r->attention));
	json_object_set_new(o, "optimizer",
			    enum_or_null(vf_optimizer_name(r->optimizer),
					 r->optimizer));
	json_object_set_new(o, "optimizer_in_backward",
			    tristate(r->optimizer_in_backward));
	json_object_set_new(o, "loss", enum_or_null(vf_loss_name(r->loss), r->loss));
	json_object_set_new(o, "packing", tristate(r->packing));
	json_object_set_new(o, "compile", tristate(r->compile));
	json_object_set_new(o, "activation_offload",
			    tristate(r->activation_offload));
	json_t *par = json_object();
	json_object_set_new(par, "n_gpus", uint_or_null(r->n_gpus));
	json_object_set_new(par, "strategy",
			    enum_or_null(vf_strategy_name(r->strategy),
					 r->strategy));
	json_object_set_new(par, "offload",
			    r->offload ? json_string(vf_offload_name(r->offload))
				       : json_null());
	json_object_set_new(par, "tp", json_null());
	json_object_set_new(par, "cp", json_null());
	json_object_set_new(o, "parallel", par);
	json_t *fw = json_object();
	json_object_set_new(fw, "name",
			    json_string(vf_framework_name(r->framework)));
	json_object_set_new(fw, "version",
			    version_or_null(r->framework == VF_FW_TRL
						    ? r->versions[VF_PKG_TRL]
						    : 0));
	for (size_t i = 0; i < VF_ARRAY_LEN(version_keys); i++)
		json_object_set_new(fw, version_keys[i].key,
				    version_or_null(
					    r->versions[version_keys[i].pkg]));
	json_object_set_new(o, "framework", fw);
	json_object_set_new(o, "phases",
			    enum_or_null(vf_phases_name(r->phases), r->phases));
	json_t *gpu = json_object();
	json_object_set_new(gpu, "name", r->gpu_name[0] ? json_string(r->gpu_name)
						       : json_null());
	json_object_set_new(gpu, "memory_gib", r->gpu_memory_gib > 0
						       ? json_real(r->gpu_memory_gib)
						       : json_null());
	json_object_set_new(o, "gpu", gpu);
	/* vramfit extensions, outside schema v1's required keys */
	json_object_set_new(o, "objective",
			    enum_or_null(vf_objective_name(r->objective),
					 r->objective));
	return o;
}

char *vf_run_to_json(const vf_run *r, const char *model)
{
	json_t *o = vf_run_to_json_value(r, model);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}
