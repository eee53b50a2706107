/*
 * nvml.h - the part of NVIDIA's nvml.h that vramfit uses, declared here so
 * the build needs no CUDA toolkit or driver headers. Each declaration names
 * the nvml.h it mirrors (CUDA 12.x nvml.h, NVML API version 12; the layouts
 * below have not changed since the version noted). Internal; not installed.
 */
#ifndef VF_NVML_H
#define VF_NVML_H

#include "internal.h"

/* nvmlReturn_t (nvml.h since 2.285; the values are stable ABI). */
typedef int nvmlReturn_t;
enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_UNINITIALIZED = 1,
	NVML_ERROR_INVALID_ARGUMENT = 2,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_NO_PERMISSION = 4,
	NVML_ERROR_NOT_FOUND = 6,
	NVML_ERROR_INSUFFICIENT_SIZE = 7,
	NVML_ERROR_DRIVER_NOT_LOADED = 9,
	NVML_ERROR_FUNCTION_NOT_FOUND = 13,
	NVML_ERROR_GPU_IS_LOST = 15,
	NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25, /* nvml.h 11.6 */
	NVML_ERROR_UNKNOWN = 999,
};

typedef struct nvmlDevice_st *nvmlDevice_t;

#define NVML_TEMPERATURE_GPU 0
#define NVML_VALUE_NOT_AVAILABLE (~0ull)
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80

/* nvmlMemory_t (v1), nvml.h 2.285: used includes the driver's reserve. */
typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;

/* nvmlMemory_v2_t, nvml.h 11.6 (driver 510): `used` excludes `reserved`,
 * which is what nvidia-smi shows as used since 510. */
typedef struct {
	unsigned int version;
	unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;

/* NVML_STRUCT_VERSION(Memory, 2) of nvml.h: size | version << 24, not 2. */
#define VF_NVML_MEMORY_V2_VERSION                                             \
	((unsigned)(sizeof(nvmlMemory_v2_t) | (2u << 24)))

/* nvmlUtilization_t, nvml.h 2.285. */
typedef struct {
	unsigned int gpu, memory;
} nvmlUtilization_t;

/* nvmlPciInfo_t as nvmlDeviceGetPciInfo_v3 fills it, nvml.h 11.0. */
typedef struct {
	char busIdLegacy[16];
	unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
} nvmlPciInfo_t;

/* nvmlProcessInfo_v1_t (plain call), nvml.h 2.285. */
typedef struct {
	unsigned int pid;
	unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

/* nvmlProcessInfo_t of the _v2 (11.0) and _v3 (11.6 update) calls: the same
 * layout, v3 only changed how the driver fills it. */
typedef struct {
	unsigned int pid;
	unsigned long long usedGpuMemory;
	unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_v2_t;

#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t layout");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t");
_Static_assert(sizeof(nvmlProcessInfo_v2_t) == 24, "nvmlProcessInfo_v2_t");
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t layout");
#endif

/*
 * The resolved functions. A NULL optional slot means "this driver lacks
 * it": the field it fills is reported unknown. `procs_v1` says which
 * process-info layout compute_procs/graphics_procs take.
 */
struct vf_nvml_fns {
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	const char *(*error_string)(nvmlReturn_t);
	nvmlReturn_t (*driver_version)(char *, unsigned);
	nvmlReturn_t (*count)(unsigned *);
	nvmlReturn_t (*handle_by_index)(unsigned, nvmlDevice_t *);
	nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned);
	nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*memory_v2)(nvmlDevice_t, nvmlMemory_v2_t *);
	nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned);
	nvmlReturn_t (*pci_info)(nvmlDevice_t, nvmlPciInfo_t *);
	nvmlReturn_t (*compute_cap)(nvmlDevice_t, int *, int *);
	nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned *);
	nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned *);
	nvmlReturn_t (*power_limit)(nvmlDevice_t, unsigned *);
	nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t *);
	nvmlReturn_t (*throttle)(nvmlDevice_t, unsigned long long *);
	nvmlReturn_t (*pcie_gen)(nvmlDevice_t, unsigned *);
	nvmlReturn_t (*pcie_width)(nvmlDevice_t, unsigned *);
	nvmlReturn_t (*compute_procs)(nvmlDevice_t, unsigned *, void *);
	nvmlReturn_t (*graphics_procs)(nvmlDevice_t, unsigned *, void *);
	bool compute_procs_v1, graphics_procs_v1;
};

struct vf_nvml {
	void *dl;
	char library[256];
	struct vf_nvml_fns fn;
	/* process-list buffer, kept between reads so sampling is flat */
	void *scratch;
	size_t scratch_size;
};

/* "Driver Not Loaded" (nvmlErrorString) or a fallback naming the code. */
const char *vf_nvml_strerror(const vf_nvml *nvml, nvmlReturn_t rc);

#endif
