/*
 * gpu_budget.c - the memory a training process may use on each detected
 * GPU (--vram auto).
 *
 *   budget = total - reserved - others - margin        (per GPU, >= 0)
 *
 * total is what the driver reports (nvidia-smi memory.total). reserved is
 * the driver's own reserve, which only the memory v2 call reports; with the
 * v1 call it is part of "used" and so lands in `others` as unattributed,
 * which gives the same budget either way. others is what other processes
 * hold now: the larger of the listed processes' sum and the device's used
 * memory, because processes in other containers (or all of them, where
 * the driver will not list processes) hold memory no list shows.
 *
 * GPUs are budgets each, never a sum: data-parallel replicas each need the
 * whole run, so a mixed set is bound by its smallest budget.
 */
#include "internal.h"

#include <string.h>

vf_status vf_gpu_budget_compute(const vf_gpu_list *list, uint64_t margin,
				vf_gpu_budget *out, vf_error *err)
{
	memset(out, 0, sizeof *out);
	if (list->n_gpus == 0)
		return vf_fail(err, VF_ENODEV, "no GPU visible%s",
			       list->filtered ? " (CUDA_VISIBLE_DEVICES hides "
						"them)" : "");
	for (unsigned i = 0; i < list->n_gpus; i++) {
		const vf_gpu_info *g = &list->gpus[i];
		vf_gpu_budget_entry *e = &out->gpu[i];
		uint64_t listed = 0;
		for (unsigned j = 0; j < g->n_procs; j++)
			if (g->procs[j].used_known)
				listed = vf_add(listed, g->procs[j].used_bytes);
		e->index = g->index;
		e->total_bytes = g->memory_total_bytes;
		e->reserved_bytes = VF_GPU_HAS(g, VF_GPU_MEMORY_RESERVED) ?
					    g->memory_reserved_bytes : 0;
		e->others_bytes = vf_max(listed, g->memory_used_bytes);
		e->unattributed_bytes = e->others_bytes - listed;
		e->margin_bytes = margin;
		uint64_t b = vf_sub_floor(e->total_bytes, e->reserved_bytes);
		b = vf_sub_floor(b, e->others_bytes);
		e->budget_bytes = vf_sub_floor(b, margin);
		if (i == 0 || e->budget_bytes < out->min_budget_bytes) {
			out->min_budget_bytes = e->budget_bytes;
			out->min_index = e->index;
		}
		if (g->memory_total_bytes != list->gpus[0].memory_total_bytes)
			out->mixed = true;
	}
	out->n_gpus = list->n_gpus;
	return VF_OK;
}
