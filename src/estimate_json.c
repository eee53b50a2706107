/*
 * estimate_json.c - the --json form of an estimate (schema in
 * docs/json-schema.md, "estimate"; "schema_version": 1).
 */
#include "internal.h"

#include <jansson.h>

void *vf_estimate_to_json_value(const vf_model *m, const vf_estimate *e);

void *vf_estimate_to_json_value(const vf_model *m, const vf_estimate *e)
{
	json_t *o = json_object();
	json_t *model = json_object();
	json_object_set_new(model, "name", json_string(m->name));
	json_object_set_new(model, "model_type", json_string(m->arch.model_type));
	json_object_set_new(model, "parameters", json_integer((json_int_t)m->params.total));
	json_object_set_new(model, "trainable_parameters",
			    json_integer((json_int_t)e->params_trainable));
	json_t *pm = json_object();
	const struct { const char *k; uint64_t v; } parts[] = {
		{"embed", m->params.embed}, {"positions", m->params.positions},
		{"attention", m->params.attention}, {"mlp", m->params.mlp},
		{"experts", m->params.experts}, {"router", m->params.router},
		{"norms", m->params.norms}, {"lm_head", m->params.lm_head},
	};
	for (size_t i = 0; i < VF_ARRAY_LEN(parts); i++)
		json_object_set_new(pm, parts[i].k, json_integer((json_int_t)parts[i].v));
	json_object_set_new(model, "parameters_by_module", pm);
	json_object_set_new(o, "schema_version", json_integer(1));
	json_object_set_new(o, "model", model);
	json_object_set_new(o, "run", vf_run_to_json_value(&e->run, m->name));

	json_t *peak = json_object();
	json_object_set_new(peak, "allocated_bytes", json_integer((json_int_t)e->peak_allocated));
	json_object_set_new(peak, "reserved_bytes", json_integer((json_int_t)e->peak_reserved));
	json_object_set_new(peak, "process_bytes", json_integer((json_int_t)e->peak_process));
	json_object_set_new(peak, "phase", json_string(vf_phase_name(e->peak_phase)));
	json_object_set_new(o, "peak", peak);
	json_t *comp = json_object();
	for (int i = 0; i < VF_COMP_COUNT; i++)
		json_object_set_new(comp, vf_component_name((vf_component)i),
				    json_integer((json_int_t)e->component[i]));
	json_object_set_new(o, "components_bytes", comp);
	json_t *ph = json_object();
	for (int i = 0; i < VF_PHASE_COUNT; i++)
		json_object_set_new(ph, vf_phase_name((vf_phase)i),
				    json_integer((json_int_t)e->phase_allocated[i]));
	json_object_set_new(o, "phase_allocated_bytes", ph);
	json_object_set_new(o, "host_bytes", json_integer((json_int_t)e->host_bytes));
	json_object_set_new(o, "tokens_per_micro_batch", json_integer((json_int_t)e->tokens));
	json_t *terms = json_array();
	for (unsigned i = 0; i < e->n_terms; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "component",
				    json_string(vf_component_name(e->terms[i].component)));
		json_object_set_new(t, "label", json_string(e->terms[i].label));
		json_object_set_new(t, "formula", json_string(e->terms[i].formula));
		json_object_set_new(t, "bytes", json_integer((json_int_t)e->terms[i].bytes));
		json_array_append_new(terms, t);
	}
	json_object_set_new(o, "terms", terms);
	return o;
}

char *vf_estimate_to_json_verdict(const vf_model *m, const vf_estimate *e,
				  const vf_verdict *v)
{
	json_t *o = vf_estimate_to_json_value(m, e);
	if (v) {
		json_t *j = json_object();
		json_object_set_new(j, "capacity_bytes",
				    json_integer((json_int_t)v->capacity_bytes));
		json_object_set_new(j, "safety_margin_bytes",
				    json_integer((json_int_t)v->safety_margin_bytes));
		json_object_set_new(j, "budget_bytes",
				    json_integer((json_int_t)v->budget_bytes));
		json_object_set_new(j, "fits", json_boolean(v->fits));
		json_object_set_new(j, "headroom_bytes",
				    json_integer((json_int_t)v->headroom_bytes));
		json_object_set_new(o, "verdict", j);
	}
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

char *vf_estimate_to_json(const vf_model *m, const vf_estimate *e)
{
	return vf_estimate_to_json_verdict(m, e, NULL);
}
