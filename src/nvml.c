/*
 * nvml.c - loads libnvidia-ml with dlopen() and resolves the functions
 * vramfit uses from one table. Nothing links against NVML: a machine
 * without the driver builds and runs everything else.
 *
 * Why a table: each function has its versioned names, newest first, and is
 * either required (without it no GPU can be described: init, count, handle,
 * name, memory) or optional (its field is then reported unknown). The list
 * of names per slot is where the header version each one mirrors is kept.
 *
 * Only "libnvidia-ml.so.1" is opened, never the bare "libnvidia-ml.so": the
 * bare name is the development symlink, which on machines with the CUDA
 * toolkit's stubs on the search path is a stub that always fails.
 */
#include "nvml.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_SONAME "libnvidia-ml.so.1"

struct symbol {
	const char *names[3];     /* tried in order: newest first */
	bool required;
	size_t slot;              /* offsetof(struct vf_nvml_fns, ...) */
	/* names[v1_from...] take nvmlProcessInfo_v1_t; flag at v1_flag */
	unsigned v1_from;
	size_t v1_flag;
};

#define SLOT(f) offsetof(struct vf_nvml_fns, f)
#define NO_V1 0, 0

static const struct symbol symbols[] = {
	/* nvmlInit_v2: nvml.h 4.304; nvmlInit is the pre-v2 entry point. */
	{{"nvmlInit_v2", "nvmlInit"}, true, SLOT(init), NO_V1},
	{{"nvmlShutdown"}, true, SLOT(shutdown), NO_V1},
	{{"nvmlErrorString"}, true, SLOT(error_string), NO_V1},
	/* nvmlDeviceGetCount_v2 / HandleByIndex_v2: nvml.h 4.304 (v1 counts
	 * only devices the caller may access) */
	{{"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"}, true, SLOT(count),
	 NO_V1},
	{{"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"}, true,
	 SLOT(handle_by_index), NO_V1},
	{{"nvmlDeviceGetName"}, true, SLOT(name), NO_V1},
	{{"nvmlDeviceGetMemoryInfo"}, true, SLOT(memory), NO_V1},
	/* optional from here on */
	{{"nvmlSystemGetDriverVersion"}, false, SLOT(driver_version), NO_V1},
	/* nvml.h 11.6 (driver 510): splits out the reserved memory */
	{{"nvmlDeviceGetMemoryInfo_v2"}, false, SLOT(memory_v2), NO_V1},
	{{"nvmlDeviceGetUUID"}, false, SLOT(uuid), NO_V1},
	/* _v3: nvml.h 11.0; _v2 has the same struct */
	{{"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2"}, false,
	 SLOT(pci_info), NO_V1},
	{{"nvmlDeviceGetCudaComputeCapability"}, false, SLOT(compute_cap),
	 NO_V1},
	{{"nvmlDeviceGetTemperature"}, false, SLOT(temperature), NO_V1},
	{{"nvmlDeviceGetPowerUsage"}, false, SLOT(power_usage), NO_V1},
	{{"nvmlDeviceGetEnforcedPowerLimit"}, false, SLOT(power_limit), NO_V1},
	{{"nvmlDeviceGetUtilizationRates"}, false, SLOT(utilization), NO_V1},
	/* ClocksEventReasons: nvml.h 12.2 renamed ThrottleReasons, same bits */
	{{"nvmlDeviceGetCurrentClocksEventReasons",
	  "nvmlDeviceGetCurrentClocksThrottleReasons"},
	 false, SLOT(throttle), NO_V1},
	{{"nvmlDeviceGetCurrPcieLinkGeneration"}, false, SLOT(pcie_gen), NO_V1},
	{{"nvmlDeviceGetCurrPcieLinkWidth"}, false, SLOT(pcie_width), NO_V1},
	/* _v3: nvml.h 11.6 update 2 (driver 510.47), _v2: 11.0; both take
	 * nvmlProcessInfo_v2_t. The plain call takes the v1 layout. */
	{{"nvmlDeviceGetComputeRunningProcesses_v3",
	  "nvmlDeviceGetComputeRunningProcesses_v2",
	  "nvmlDeviceGetComputeRunningProcesses"},
	 false, SLOT(compute_procs), 2, SLOT(compute_procs_v1)},
	{{"nvmlDeviceGetGraphicsRunningProcesses_v3",
	  "nvmlDeviceGetGraphicsRunningProcesses_v2",
	  "nvmlDeviceGetGraphicsRunningProcesses"},
	 false, SLOT(graphics_procs), 2, SLOT(graphics_procs_v1)},
};

/* Messages for the codes a user can act on; the rest use nvmlErrorString. */
static const struct {
	nvmlReturn_t rc;
	const char *why;
} init_reasons[] = {
	{NVML_ERROR_DRIVER_NOT_LOADED, "NVIDIA driver not loaded"},
	{NVML_ERROR_NO_PERMISSION, "no permission to talk to the NVIDIA driver"},
	{NVML_ERROR_GPU_IS_LOST, "a GPU has fallen off the bus"},
};

const char *vf_nvml_strerror(const vf_nvml *nvml, nvmlReturn_t rc)
{
	const char *s = nvml && nvml->fn.error_string ?
				nvml->fn.error_string(rc) : NULL;
	return s && *s ? s : "unknown NVML error";
}

static bool resolve(vf_nvml *nvml, const struct symbol *sym)
{
	for (unsigned i = 0; i < VF_ARRAY_LEN(sym->names) && sym->names[i];
	     i++) {
		void *p = dlsym(nvml->dl, sym->names[i]);
		if (!p)
			continue;
		/* POSIX dlsym returns functions through void *. */
		memcpy((char *)&nvml->fn + sym->slot, &p, sizeof p);
		if (sym->v1_flag)
			*(bool *)((char *)&nvml->fn + sym->v1_flag) =
				i >= sym->v1_from;
		return true;
	}
	return false;
}

vf_status vf_nvml_open(vf_nvml **out, vf_error *err)
{
	*out = NULL;
	const char *path = getenv("VRAMFIT_NVML_LIBRARY");
	if (!path || !*path)
		path = NVML_SONAME;
	vf_nvml *nvml = calloc(1, sizeof *nvml);
	if (!nvml)
		return vf_fail(err, VF_ENOMEM, "out of memory");
	vf_strlcpy(nvml->library, path, sizeof nvml->library);
	dlerror();
	nvml->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!nvml->dl) {
		const char *why = dlerror();
		vf_fail(err, VF_ENODEV, "NVIDIA driver library not found (%s)",
			why ? why : path);
		free(nvml);
		return VF_ENODEV;
	}
	for (size_t i = 0; i < VF_ARRAY_LEN(symbols); i++) {
		if (resolve(nvml, &symbols[i]) || !symbols[i].required)
			continue;
		vf_fail(err, VF_ENODEV,
			"%s lacks %s: NVIDIA driver too old or not NVML",
			path, symbols[i].names[0]);
		dlclose(nvml->dl);
		free(nvml);
		return VF_ENODEV;
	}
	nvmlReturn_t rc = nvml->fn.init();
	if (rc != NVML_SUCCESS) {
		const char *why = NULL;
		for (size_t i = 0; i < VF_ARRAY_LEN(init_reasons); i++)
			if (init_reasons[i].rc == rc)
				why = init_reasons[i].why;
		if (why)
			vf_fail(err, VF_ENODEV, "%s (nvmlInit: %s)", why,
				vf_nvml_strerror(nvml, rc));
		else
			vf_fail(err, VF_ENODEV, "cannot initialize NVML: %s",
				vf_nvml_strerror(nvml, rc));
		dlclose(nvml->dl);
		free(nvml);
		return VF_ENODEV;
	}
	*out = nvml;
	return VF_OK;
}

void vf_nvml_close(vf_nvml *nvml)
{
	if (!nvml)
		return;
	nvml->fn.shutdown();
	dlclose(nvml->dl);
	free(nvml->scratch);
	free(nvml);
}

const char *vf_nvml_library(const vf_nvml *nvml)
{
	return nvml->library;
}
