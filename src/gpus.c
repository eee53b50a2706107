/*
 * gpus.c - reads every GPU NVML sees into plain vf_gpu_info values, then
 * keeps the ones a CUDA program would see (CUDA_VISIBLE_DEVICES), numbered
 * as it would number them.
 *
 * Numbering: NVML (and nvidia-smi) enumerate by PCI bus id. CUDA does so
 * only with CUDA_DEVICE_ORDER=PCI_BUS_ID; its default FASTEST_FIRST puts
 * the fastest GPU first and leaves the rest unspecified. On a box of one
 * GPU model the two agree in practice; on a mixed box we keep PCI order and
 * say so (vf_gpu_list.order_exact = false) rather than guess CUDA's
 * heuristic.
 *
 * A failed optional query leaves its field unknown (its bit in `valid`
 * clear); only the required ones (handle, name, memory) fail the read.
 */
#include "nvml.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Retries of the two-call process-list pattern: the list may grow between
 * the call that sizes it and the call that fills it. */
#define PROC_RETRIES 6

static void set_valid(vf_gpu_info *g, vf_gpu_field f)
{
	g->valid |= 1u << f;
}

/* Reads /proc/PID/comm, or the basename of argv[0] when comm is gone. */
static void process_name(int32_t pid, char *buf, size_t size)
{
	char path[64], tmp[256];
	buf[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(tmp, sizeof tmp, f)) {
			tmp[strcspn(tmp, "\n")] = '\0';
			vf_strlcpy(buf, tmp, size);
		}
		fclose(f);
		if (buf[0])
			return;
	}
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(tmp, 1, sizeof tmp - 1, f);
	fclose(f);
	tmp[n] = '\0';
	const char *base = strrchr(tmp, '/');
	vf_strlcpy(buf, base ? base + 1 : tmp, size);
}

/*
 * One process list (compute or graphics) into the GPU's procs[], merging a
 * PID that is on both lists. Returns false when NVML could not list them.
 */
static bool read_procs(vf_nvml *nvml, nvmlDevice_t dev, bool graphics,
		       vf_gpu_info *g)
{
	nvmlReturn_t (*fn)(nvmlDevice_t, unsigned *, void *) =
		graphics ? nvml->fn.graphics_procs : nvml->fn.compute_procs;
	bool v1 = graphics ? nvml->fn.graphics_procs_v1 :
			     nvml->fn.compute_procs_v1;
	if (!fn)
		return false;
	size_t stride = v1 ? sizeof(nvmlProcessInfo_v1_t) :
			     sizeof(nvmlProcessInfo_v2_t);
	unsigned n = 0;
	nvmlReturn_t rc = NVML_ERROR_INSUFFICIENT_SIZE;
	for (int tries = 0; tries < PROC_RETRIES; tries++) {
		n = (unsigned)(nvml->scratch_size / stride);
		rc = fn(dev, &n, nvml->scratch);
		if (rc != NVML_ERROR_INSUFFICIENT_SIZE)
			break;
		/* room for the count it asked for and some growth */
		size_t want = ((size_t)n + n / 2 + 8) * stride;
		void *p = realloc(nvml->scratch, want);
		if (!p)
			return false;
		nvml->scratch = p;
		nvml->scratch_size = want;
	}
	if (rc != NVML_SUCCESS)
		return false;
	for (unsigned i = 0; i < n; i++) {
		const char *e = (const char *)nvml->scratch + i * stride;
		nvmlProcessInfo_v1_t info; /* pid and memory lead both layouts */
		memcpy(&info.pid, e + offsetof(nvmlProcessInfo_v1_t, pid),
		       sizeof info.pid);
		memcpy(&info.usedGpuMemory,
		       e + offsetof(nvmlProcessInfo_v1_t, usedGpuMemory),
		       sizeof info.usedGpuMemory);
		vf_gpu_process *p = NULL;
		for (unsigned j = 0; j < g->n_procs; j++)
			if (g->procs[j].pid == (int32_t)info.pid)
				p = &g->procs[j];
		bool known = info.usedGpuMemory != NVML_VALUE_NOT_AVAILABLE;
		if (p) {
			/* both lists describe one allocation: keep the larger */
			if (known && (!p->used_known ||
				      info.usedGpuMemory > p->used_bytes)) {
				p->used_known = true;
				p->used_bytes = info.usedGpuMemory;
			}
			continue;
		}
		if (g->n_procs == VF_GPU_MAX_PROCS) {
			g->procs_dropped++;
			continue;
		}
		p = &g->procs[g->n_procs++];
		p->pid = (int32_t)info.pid;
		p->used_known = known;
		p->used_bytes = known ? info.usedGpuMemory : 0;
		p->graphics = graphics;
		process_name(p->pid, p->name, sizeof p->name);
	}
	return true;
}

static int by_usage(const void *a, const void *b)
{
	const vf_gpu_process *x = a, *y = b;
	uint64_t ux = x->used_known ? x->used_bytes : 0;
	uint64_t uy = y->used_known ? y->used_bytes : 0;
	if (ux != uy)
		return ux < uy ? 1 : -1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static vf_status read_memory(vf_nvml *nvml, nvmlDevice_t dev, vf_gpu_info *g,
			     vf_error *err)
{
	if (nvml->fn.memory_v2) {
		nvmlMemory_v2_t m = {.version = VF_NVML_MEMORY_V2_VERSION};
		if (nvml->fn.memory_v2(dev, &m) == NVML_SUCCESS) {
			g->memory_total_bytes = m.total;
			g->memory_used_bytes = m.used;
			g->memory_free_bytes = m.free;
			g->memory_reserved_bytes = m.reserved;
			set_valid(g, VF_GPU_MEMORY_RESERVED);
			return VF_OK;
		}
		/* an older driver: v1 below counts the reserve as used */
	}
	nvmlMemory_t m;
	nvmlReturn_t rc = nvml->fn.memory(dev, &m);
	if (rc != NVML_SUCCESS)
		return vf_fail(err, VF_ENODEV, "GPU %u: nvmlDeviceGetMemoryInfo: %s",
			       g->nvml_index, vf_nvml_strerror(nvml, rc));
	g->memory_total_bytes = m.total;
	g->memory_used_bytes = m.used;
	g->memory_free_bytes = m.free;
	return VF_OK;
}

static void read_optional(vf_nvml *nvml, nvmlDevice_t dev, vf_gpu_info *g)
{
	const struct vf_nvml_fns *fn = &nvml->fn;
	if (fn->uuid && fn->uuid(dev, g->uuid, sizeof g->uuid) == NVML_SUCCESS)
		set_valid(g, VF_GPU_UUID);
	nvmlPciInfo_t pci;
	if (fn->pci_info && fn->pci_info(dev, &pci) == NVML_SUCCESS) {
		pci.busId[sizeof pci.busId - 1] = '\0';
		vf_strlcpy(g->pci_bus_id, pci.busId, sizeof g->pci_bus_id);
		set_valid(g, VF_GPU_PCI_BUS_ID);
	}
	if (fn->compute_cap &&
	    fn->compute_cap(dev, &g->cc_major, &g->cc_minor) == NVML_SUCCESS) {
		/* bf16 tensor cores arrived with Ampere (sm_80) */
		g->bf16 = g->cc_major >= 8;
		set_valid(g, VF_GPU_COMPUTE_CAP);
	}
	if (fn->temperature && fn->temperature(dev, NVML_TEMPERATURE_GPU,
					       &g->temperature_c) == NVML_SUCCESS)
		set_valid(g, VF_GPU_TEMPERATURE);
	if (fn->power_usage &&
	    fn->power_usage(dev, &g->power_mw) == NVML_SUCCESS)
		set_valid(g, VF_GPU_POWER);
	if (fn->power_limit &&
	    fn->power_limit(dev, &g->power_limit_mw) == NVML_SUCCESS)
		set_valid(g, VF_GPU_POWER_LIMIT);
	nvmlUtilization_t u;
	if (fn->utilization && fn->utilization(dev, &u) == NVML_SUCCESS) {
		g->util_gpu_pct = u.gpu;
		g->util_memory_pct = u.memory;
		set_valid(g, VF_GPU_UTILIZATION);
	}
	unsigned long long t;
	if (fn->throttle && fn->throttle(dev, &t) == NVML_SUCCESS) {
		g->throttle = t;
		set_valid(g, VF_GPU_THROTTLE);
	}
	if (fn->pcie_gen && fn->pcie_width &&
	    fn->pcie_gen(dev, &g->pcie_gen) == NVML_SUCCESS &&
	    fn->pcie_width(dev, &g->pcie_width) == NVML_SUCCESS)
		set_valid(g, VF_GPU_PCIE);
	bool compute = read_procs(nvml, dev, false, g);
	bool graphics = !fn->graphics_procs || read_procs(nvml, dev, true, g);
	if (compute && graphics)
		set_valid(g, VF_GPU_PROCESSES);
	qsort(g->procs, g->n_procs, sizeof g->procs[0], by_usage);
}

static vf_status read_device(vf_nvml *nvml, unsigned i, vf_gpu_info *g,
			     vf_error *err)
{
	nvmlDevice_t dev;
	g->index = g->nvml_index = i;
	nvmlReturn_t rc = nvml->fn.handle_by_index(i, &dev);
	if (rc != NVML_SUCCESS)
		return vf_fail(err, VF_ENODEV, "GPU %u: %s", i,
			       vf_nvml_strerror(nvml, rc));
	rc = nvml->fn.name(dev, g->name, sizeof g->name);
	if (rc != NVML_SUCCESS)
		return vf_fail(err, VF_ENODEV, "GPU %u: nvmlDeviceGetName: %s", i,
			       vf_nvml_strerror(nvml, rc));
	g->name[sizeof g->name - 1] = '\0';
	vf_status st = read_memory(nvml, dev, g, err);
	if (st)
		return st;
	read_optional(nvml, dev, g);
	return VF_OK;
}

/* CUDA's default order equals PCI order for sure only when asked for, and
 * in practice when every GPU is the same model. */
static bool order_is_exact(const vf_gpu_list *l)
{
	const char *order = getenv("CUDA_DEVICE_ORDER");
	if (order && strcmp(order, "PCI_BUS_ID") == 0)
		return true;
	for (unsigned i = 1; i < l->n_gpus; i++)
		if (strcmp(l->gpus[i].name, l->gpus[0].name) != 0)
			return false;
	return true;
}

vf_status vf_gpus_read(vf_nvml *nvml, vf_gpu_list *out, vf_error *err)
{
	memset(out, 0, sizeof *out);
	if (nvml->fn.driver_version &&
	    nvml->fn.driver_version(out->driver_version,
				    sizeof out->driver_version) != NVML_SUCCESS)
		out->driver_version[0] = '\0';
	out->driver_version[sizeof out->driver_version - 1] = '\0';
	unsigned n = 0;
	nvmlReturn_t rc = nvml->fn.count(&n);
	if (rc != NVML_SUCCESS)
		return vf_fail(err, VF_ENODEV, "cannot count GPUs: %s",
			       vf_nvml_strerror(nvml, rc));
	out->nvml_count = n;
	if (n > VF_GPU_MAX)
		n = VF_GPU_MAX;
	for (unsigned i = 0; i < n; i++) {
		vf_status st = read_device(nvml, i, &out->gpus[i], err);
		if (st) {
			out->n_gpus = 0;
			return st;
		}
		out->n_gpus = i + 1;
	}
	out->order_exact = order_is_exact(out);
	vf_gpus_filter(out, getenv("CUDA_VISIBLE_DEVICES"));
	return VF_OK;
}

vf_status vf_gpus_detect(vf_gpu_list *out, vf_error *err)
{
	vf_nvml *nvml;
	vf_status st = vf_nvml_open(&nvml, err);
	if (st) {
		memset(out, 0, sizeof *out);
		return st;
	}
	st = vf_gpus_read(nvml, out, err);
	vf_nvml_close(nvml);
	return st;
}

/* The GPU an entry names, or -1 (invalid, unknown or ambiguous). */
static int lookup(const vf_gpu_list *l, const char *e)
{
	if (isdigit((unsigned char)e[0])) {
		char *end;
		unsigned long v = strtoul(e, &end, 10);
		return *end || v >= l->n_gpus ? -1 : (int)v;
	}
	if (strncmp(e, "GPU-", 4) != 0)
		return -1; /* MIG-... instances are not GPUs we can budget */
	int found = -1;
	size_t len = strlen(e);
	for (unsigned i = 0; i < l->n_gpus; i++) {
		if (!VF_GPU_HAS(&l->gpus[i], VF_GPU_UUID) ||
		    strncasecmp(l->gpus[i].uuid, e, len) != 0)
			continue;
		if (found >= 0)
			return -1;
		found = (int)i;
	}
	return found;
}

void vf_gpus_filter(vf_gpu_list *l, const char *cvd)
{
	l->filtered = cvd != NULL;
	if (cvd) {
		int rank[VF_GPU_MAX];
		unsigned kept = 0;
		for (unsigned i = 0; i < VF_GPU_MAX; i++)
			rank[i] = -1;
		const char *p = cvd;
		while (*p && kept < l->n_gpus) {
			char e[128];
			size_t len = strcspn(p, ",");
			size_t b = 0;
			while (b < len && isspace((unsigned char)p[b]))
				b++;
			size_t t = len;
			while (t > b && isspace((unsigned char)p[t - 1]))
				t--;
			if (t - b == 0 || t - b >= sizeof e)
				break;
			memcpy(e, p + b, t - b);
			e[t - b] = '\0';
			int g = lookup(l, e);
			if (g < 0 || rank[g] >= 0)
				break; /* CUDA ignores the rest of the list */
			rank[g] = (int)kept++;
			p += len;
			if (*p == ',')
				p++;
		}
		/* Move the kept GPUs to the front in list order. */
		for (unsigned pos = 0; pos < kept; pos++) {
			unsigned j = pos;
			while (rank[j] != (int)pos)
				j++;
			if (j != pos) {
				vf_gpu_info tmp = l->gpus[pos];
				l->gpus[pos] = l->gpus[j];
				l->gpus[j] = tmp;
				int r = rank[pos];
				rank[pos] = rank[j];
				rank[j] = r;
			}
		}
		l->n_gpus = kept;
	}
	for (unsigned i = 0; i < l->n_gpus; i++)
		l->gpus[i].index = i;
}

uint64_t vf_gpu_used_by(const vf_gpu_info *g, const int32_t *pids,
			size_t n_pids)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < g->n_procs; i++) {
		if (!g->procs[i].used_known)
			continue;
		for (size_t j = 0; j < n_pids; j++)
			if (pids[j] == g->procs[i].pid) {
				sum = vf_add(sum, g->procs[i].used_bytes);
				break;
			}
	}
	return sum;
}
