/*
 * gpu_json.c - the vf_gpu_list as JSON (schema in docs/gpus.md), and the
 * names of throttle reasons. Unknown fields are null, never 0; numbers are
 * JSON numbers with the unit in the key.
 */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const struct {
	uint64_t bit;
	const char *name;
} throttle_names[] = {
	{VF_THROTTLE_GPU_IDLE, "gpu_idle"},
	{VF_THROTTLE_APP_CLOCKS, "applications_clocks"},
	{VF_THROTTLE_SW_POWER_CAP, "sw_power_cap"},
	{VF_THROTTLE_HW_SLOWDOWN, "hw_slowdown"},
	{VF_THROTTLE_SYNC_BOOST, "sync_boost"},
	{VF_THROTTLE_SW_THERMAL, "sw_thermal"},
	{VF_THROTTLE_HW_THERMAL, "hw_thermal"},
	{VF_THROTTLE_HW_POWER_BRAKE, "hw_power_brake"},
	{VF_THROTTLE_DISPLAY_CLOCKS, "display_clocks"},
};

size_t vf_throttle_format(uint64_t reasons, char *buf, size_t size)
{
	size_t n = 0;
	uint64_t named = 0;
	int w;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < VF_ARRAY_LEN(throttle_names); i++) {
		if (!(reasons & throttle_names[i].bit))
			continue;
		named |= throttle_names[i].bit;
		w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0,
			     "%s%s", n ? "," : "", throttle_names[i].name);
		n += (size_t)w;
	}
	if (reasons & ~named) {
		w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0,
			     "%s0x%llx", n ? "," : "",
			     (unsigned long long)(reasons & ~named));
		n += (size_t)w;
	}
	if (n == 0) {
		w = snprintf(buf, size, "none");
		n = (size_t)w;
	}
	return n;
}

static json_t *opt_int(bool known, json_int_t v)
{
	return known ? json_integer(v) : json_null();
}

static json_t *opt_str(bool known, const char *s)
{
	return known ? json_string(s) : json_null();
}

static json_t *throttle_json(const vf_gpu_info *g)
{
	if (!VF_GPU_HAS(g, VF_GPU_THROTTLE))
		return json_null();
	json_t *a = json_array();
	for (size_t i = 0; i < VF_ARRAY_LEN(throttle_names); i++)
		if (g->throttle & throttle_names[i].bit)
			json_array_append_new(a, json_string(throttle_names[i].name));
	return a;
}

static json_t *procs_json(const vf_gpu_info *g)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < g->n_procs; i++) {
		const vf_gpu_process *p = &g->procs[i];
		json_array_append_new(
			a, json_pack("{s:i,s:o,s:o,s:s}", "pid", (json_int_t)p->pid,
				     "name", opt_str(p->name[0], p->name),
				     "used_bytes",
				     opt_int(p->used_known,
					     (json_int_t)p->used_bytes),
				     "type", p->graphics ? "graphics" :
							   "compute"));
	}
	return a;
}

static json_t *gpu_json(const vf_gpu_info *g)
{
	char cc[16];
	snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
	bool has_cc = VF_GPU_HAS(g, VF_GPU_COMPUTE_CAP);
	bool pcie = VF_GPU_HAS(g, VF_GPU_PCIE);
	bool util = VF_GPU_HAS(g, VF_GPU_UTILIZATION);
	json_t *o = json_object();
	json_object_set_new(o, "index", json_integer(g->index));
	json_object_set_new(o, "nvml_index", json_integer(g->nvml_index));
	json_object_set_new(o, "name", json_string(g->name));
	json_object_set_new(o, "uuid", opt_str(VF_GPU_HAS(g, VF_GPU_UUID),
					       g->uuid));
	json_object_set_new(o, "pci_bus_id",
			    opt_str(VF_GPU_HAS(g, VF_GPU_PCI_BUS_ID),
				    g->pci_bus_id));
	json_object_set_new(o, "memory_total_bytes",
			    json_integer((json_int_t)g->memory_total_bytes));
	json_object_set_new(o, "memory_used_bytes",
			    json_integer((json_int_t)g->memory_used_bytes));
	json_object_set_new(o, "memory_free_bytes",
			    json_integer((json_int_t)g->memory_free_bytes));
	json_object_set_new(o, "memory_reserved_bytes",
			    opt_int(VF_GPU_HAS(g, VF_GPU_MEMORY_RESERVED),
				    (json_int_t)g->memory_reserved_bytes));
	json_object_set_new(o, "compute_capability", opt_str(has_cc, cc));
	json_object_set_new(o, "bf16", has_cc ? json_boolean(g->bf16) :
						json_null());
	json_object_set_new(o, "temperature_c",
			    opt_int(VF_GPU_HAS(g, VF_GPU_TEMPERATURE),
				    g->temperature_c));
	json_object_set_new(o, "power_draw_mw",
			    opt_int(VF_GPU_HAS(g, VF_GPU_POWER), g->power_mw));
	json_object_set_new(o, "power_limit_mw",
			    opt_int(VF_GPU_HAS(g, VF_GPU_POWER_LIMIT),
				    g->power_limit_mw));
	json_object_set_new(o, "utilization_gpu_pct",
			    opt_int(util, g->util_gpu_pct));
	json_object_set_new(o, "utilization_memory_pct",
			    opt_int(util, g->util_memory_pct));
	json_object_set_new(o, "throttle_reasons", throttle_json(g));
	json_object_set_new(o, "pcie_generation", opt_int(pcie, g->pcie_gen));
	json_object_set_new(o, "pcie_width", opt_int(pcie, g->pcie_width));
	json_object_set_new(o, "processes_complete",
			    json_boolean(VF_GPU_HAS(g, VF_GPU_PROCESSES) &&
					 !g->procs_dropped));
	json_object_set_new(o, "processes", procs_json(g));
	return o;
}

char *vf_gpu_list_to_json(const vf_gpu_list *l)
{
	json_t *gpus = json_array();
	for (unsigned i = 0; i < l->n_gpus; i++)
		json_array_append_new(gpus, gpu_json(&l->gpus[i]));
	json_t *root = json_pack(
		"{s:i,s:o,s:i,s:b,s:b,s:o}", "schema_version", 1,
		"driver_version",
		opt_str(l->driver_version[0], l->driver_version), "nvml_count",
		(json_int_t)l->nvml_count, "cuda_visible_devices_applied",
		l->filtered, "order_exact", l->order_exact, "gpus", gpus);
	if (!root)
		return NULL;
	char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}
