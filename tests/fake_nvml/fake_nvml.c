/*
 * fake_nvml.c - a libnvidia-ml.so.1 for tests: GPUs scripted by a small
 * key=value file named by FAKE_NVML_SCENARIO, loaded by vramfit through
 * VRAMFIT_NVML_LIBRARY. It mirrors the NVML calls src/nvml.c resolves,
 * with the same layouts (see src/nvml.h).
 *
 * Scenario keys (defaults in parentheses; "gpuN." for GPU N, "gpu*." for
 * every GPU, later lines win):
 *   init=ok|driver_not_loaded|no_permission (ok)    driver=STR (550.54.15)
 *   gpus=N (1)
 *   gpuN.name=STR  gpuN.uuid=STR  gpuN.total_mib=N (24564)
 *   gpuN.used_mib=N (0: memory not held by any listed process)
 *   gpuN.reserved_mib=N (0)  gpuN.cc=MAJOR.MINOR (8.9)  gpuN.temp=C (40)
 *   gpuN.power_mw=N (100000)  gpuN.limit_mw=N (450000)
 *   gpuN.util=GPU,MEM (0,0)  gpuN.throttle=HEX (0)  gpuN.pcie=GEN,WIDTH (4,16)
 *   gpuN.procs=PID:MIB,...   compute processes (MIB "na": not available)
 *   gpuN.graphics=PID:MIB,...
 *   gpuN.grow=K   every process-list call lists K more processes
 *   gpuN.child_mib=M  gpuN.child_step_mib=S   each child of the calling
 *                 process uses M + S * (calls so far) MiB (for `run`)
 *   gpuN.memory_v2=0   the v2 memory call fails (NOT_SUPPORTED)
 * The device's used memory is used_mib plus what its processes use.
 *
 * Built three times: complete, -DFAKE_NO_OPTIONAL (lacks the v2/v3 calls,
 * temperature and the new throttle name), -DFAKE_NO_REQUIRED (lacks
 * nvmlDeviceGetName).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAXG 16
#define MAXP 256
#define MIB (1024ull * 1024ull)

typedef int nvmlReturn_t;
typedef struct dev *nvmlDevice_t;

struct proc {
	unsigned pid;
	unsigned long long mib; /* ~0: not available */
};

struct dev {
	char name[96], uuid[96], bus[32];
	unsigned long long total, used, reserved;
	int ccmaj, ccmin;
	unsigned temp, power, limit, ugpu, umem, gen, width;
	unsigned long long throttle;
	struct proc procs[MAXP], gfx[MAXP];
	unsigned nprocs, ngfx, grow, calls;
	unsigned long long child_mib, child_step;
	int memory_v2;
};

static struct dev devs[MAXG];
static unsigned ndevs = 1;
static char driver[80] = "550.54.15";
static int init_rc;

static void parse_procs(const char *v, struct proc *p, unsigned *n)
{
	*n = 0;
	while (*v && *n < MAXP) {
		p[*n].pid = (unsigned)strtoul(v, (char **)&v, 10);
		if (*v == ':')
			v++;
		if (strncmp(v, "na", 2) == 0) {
			p[*n].mib = ~0ull;
			v += 2;
		} else {
			p[*n].mib = strtoull(v, (char **)&v, 10);
		}
		(*n)++;
		if (*v == ',')
			v++;
	}
}

static void set(struct dev *d, const char *k, const char *v)
{
	if (!strcmp(k, "name"))
		snprintf(d->name, sizeof d->name, "%s", v);
	else if (!strcmp(k, "uuid"))
		snprintf(d->uuid, sizeof d->uuid, "%s", v);
	else if (!strcmp(k, "total_mib"))
		d->total = strtoull(v, NULL, 10) * MIB;
	else if (!strcmp(k, "used_mib"))
		d->used = strtoull(v, NULL, 10) * MIB;
	else if (!strcmp(k, "reserved_mib"))
		d->reserved = strtoull(v, NULL, 10) * MIB;
	else if (!strcmp(k, "cc"))
		sscanf(v, "%d.%d", &d->ccmaj, &d->ccmin);
	else if (!strcmp(k, "temp"))
		d->temp = (unsigned)atoi(v);
	else if (!strcmp(k, "power_mw"))
		d->power = (unsigned)atoi(v);
	else if (!strcmp(k, "limit_mw"))
		d->limit = (unsigned)atoi(v);
	else if (!strcmp(k, "util"))
		sscanf(v, "%u,%u", &d->ugpu, &d->umem);
	else if (!strcmp(k, "throttle"))
		d->throttle = strtoull(v, NULL, 16);
	else if (!strcmp(k, "pcie"))
		sscanf(v, "%u,%u", &d->gen, &d->width);
	else if (!strcmp(k, "procs"))
		parse_procs(v, d->procs, &d->nprocs);
	else if (!strcmp(k, "graphics"))
		parse_procs(v, d->gfx, &d->ngfx);
	else if (!strcmp(k, "grow"))
		d->grow = (unsigned)atoi(v);
	else if (!strcmp(k, "child_mib"))
		d->child_mib = strtoull(v, NULL, 10);
	else if (!strcmp(k, "child_step_mib"))
		d->child_step = strtoull(v, NULL, 10);
	else if (!strcmp(k, "memory_v2"))
		d->memory_v2 = atoi(v);
}

static void load(void)
{
	memset(devs, 0, sizeof devs);
	for (unsigned i = 0; i < MAXG; i++) {
		struct dev *d = &devs[i];
		snprintf(d->name, sizeof d->name, "NVIDIA Fake GPU");
		snprintf(d->uuid, sizeof d->uuid,
			 "GPU-fa4e%04x-0000-4000-8000-%012x", i, i);
		snprintf(d->bus, sizeof d->bus, "00000000:%02X:00.0", i + 1);
		d->total = 24564 * MIB;
		d->ccmaj = 8, d->ccmin = 9;
		d->temp = 40, d->power = 100000, d->limit = 450000;
		d->gen = 4, d->width = 16;
		d->memory_v2 = 1;
	}
	ndevs = 1;
	init_rc = 0;
	const char *path = getenv("FAKE_NVML_SCENARIO");
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f)
		return;
	char line[2048];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq || line[0] == '#')
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (!strcmp(k, "gpus"))
			ndevs = (unsigned)atoi(v) > MAXG ? MAXG : (unsigned)atoi(v);
		else if (!strcmp(k, "driver"))
			snprintf(driver, sizeof driver, "%s", v);
		else if (!strcmp(k, "init"))
			init_rc = !strcmp(v, "driver_not_loaded") ? 9 :
				  !strcmp(v, "no_permission")     ? 4 : 0;
		else if (!strncmp(k, "gpu*.", 5))
			for (unsigned i = 0; i < MAXG; i++)
				set(&devs[i], k + 5, v);
		else if (!strncmp(k, "gpu", 3) && isdigit((unsigned char)k[3])) {
			char *dot;
			unsigned i = (unsigned)strtoul(k + 3, &dot, 10);
			if (*dot == '.' && i < MAXG)
				set(&devs[i], dot + 1, v);
		}
	}
	fclose(f);
}

static int initialized;

EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	load();
	if (init_rc)
		return init_rc;
	initialized++;
	return 0;
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
	if (!initialized)
		return 1;
	initialized--;
	return 0;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t rc)
{
	switch (rc) {
	case 0: return "Success";
	case 3: return "Not Supported";
	case 4: return "Insufficient Permissions";
	case 7: return "Insufficient Size";
	case 9: return "Driver Not Loaded";
	case 25: return "Argument Version Mismatch";
	default: return "Unknown Error";
	}
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned len)
{
	snprintf(buf, len, "%s", driver);
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *n)
{
	if (!initialized)
		return 1;
	*n = ndevs;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d)
{
	if (!initialized)
		return 1;
	if (i >= ndevs)
		return 2;
	*d = &devs[i];
	return 0;
}

#ifndef FAKE_NO_REQUIRED
EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned len)
{
	if (strlen(d->name) >= len)
		return 7;
	snprintf(buf, len, "%s", d->name);
	return 0;
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned len)
{
	snprintf(buf, len, "%s", d->uuid);
	return 0;
}

/* The children of the calling process: the fake's picture of `run`. */
static unsigned children(unsigned *pids, unsigned max)
{
	unsigned n = 0;
	DIR *dir = opendir("/proc");
	struct dirent *de;
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t got = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[got] = '\0';
		char *p = strrchr(buf, ')'), st;
		int ppid;
		if (p && sscanf(p + 1, " %c %d", &st, &ppid) == 2 &&
		    ppid == (int)getpid())
			pids[n++] = (unsigned)atoi(de->d_name);
	}
	closedir(dir);
	return n;
}

/* The processes a list call reports now. */
static unsigned listing(struct dev *d, int gfx, struct proc *out)
{
	unsigned n = 0;
	const struct proc *src = gfx ? d->gfx : d->procs;
	unsigned ns = gfx ? d->ngfx : d->nprocs;
	for (unsigned i = 0; i < ns && n < MAXP; i++)
		out[n++] = src[i];
	if (gfx)
		return n;
	for (unsigned i = 0; i < d->grow * d->calls && n < MAXP; i++)
		out[n++] = (struct proc){200000 + i, 1};
	if (d->child_mib) {
		unsigned pids[32];
		unsigned k = children(pids, 32);
		for (unsigned i = 0; i < k && n < MAXP; i++)
			out[n++] = (struct proc){
				pids[i], d->child_mib + d->child_step * d->calls};
	}
	return n;
}

static unsigned long long used_now(struct dev *d)
{
	static struct proc c[MAXP], g[MAXP];
	unsigned long long u = d->used;
	unsigned nc = listing(d, 0, c), ng = listing(d, 1, g);
	for (unsigned i = 0; i < nc; i++)
		if (c[i].mib != ~0ull)
			u += c[i].mib * MIB;
	/* a process on both lists holds one allocation */
	for (unsigned i = 0; i < ng; i++) {
		int dup = 0;
		for (unsigned j = 0; j < nc; j++)
			dup |= c[j].pid == g[i].pid;
		if (!dup && g[i].mib != ~0ull)
			u += g[i].mib * MIB;
	}
	return u > d->total ? d->total : u;
}

typedef struct {
	unsigned long long total, free, used;
} mem1;
typedef struct {
	unsigned version;
	unsigned long long total, reserved, free, used;
} mem2;

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, mem1 *m)
{
	/* v1 counts the reserve as used */
	m->total = d->total;
	m->used = used_now(d) + d->reserved;
	m->free = m->total - m->used;
	return 0;
}

#ifndef FAKE_NO_OPTIONAL
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, mem2 *m)
{
	/* nvml.h: NVML_STRUCT_VERSION(Memory, 2) */
	if (m->version != (unsigned)(sizeof(mem2) | (2u << 24)))
		return 25;
	if (!d->memory_v2)
		return 3;
	m->total = d->total;
	m->reserved = d->reserved;
	m->used = used_now(d);
	m->free = m->total - m->reserved - m->used;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor,
					     unsigned *t)
{
	if (sensor != 0)
		return 2;
	*t = d->temp;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(
	nvmlDevice_t d, unsigned long long *r)
{
	*r = d->throttle;
	return 0;
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(
	nvmlDevice_t d, unsigned long long *r)
{
	*r = d->throttle;
	return 0;
}

typedef struct {
	char busIdLegacy[16];
	unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
} pci;

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, pci *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->busId, sizeof p->busId, "%s", d->bus);
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *a,
						       int *b)
{
	*a = d->ccmaj, *b = d->ccmin;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *p)
{
	*p = d->power;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d,
						    unsigned *p)
{
	*p = d->limit;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d,
						  unsigned *u)
{
	u[0] = d->ugpu, u[1] = d->umem;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d,
							unsigned *g)
{
	*g = d->gen;
	return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d,
						   unsigned *w)
{
	*w = d->width;
	return 0;
}

typedef struct {
	unsigned pid;
	unsigned long long used;
	unsigned gi, ci;
} pinfo2;
typedef struct {
	unsigned pid;
	unsigned long long used;
} pinfo1;

/* The two-call pattern: fewer slots than processes is INSUFFICIENT_SIZE
 * with the count needed now; the next call may list more (grow=). */
static nvmlReturn_t list(nvmlDevice_t d, int gfx, unsigned *count, void *buf,
			 int v1)
{
	static struct proc now[MAXP];
	if (!gfx)
		d->calls++;
	unsigned n = listing(d, gfx, now);
	if (*count < n) {
		*count = n;
		return 7;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned long long b = now[i].mib == ~0ull ? ~0ull :
							     now[i].mib * MIB;
		if (v1)
			((pinfo1 *)buf)[i] = (pinfo1){now[i].pid, b};
		else
			((pinfo2 *)buf)[i] = (pinfo2){now[i].pid, b, ~0u, ~0u};
	}
	*count = n;
	return 0;
}

#ifndef FAKE_NO_OPTIONAL
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d,
							    unsigned *c,
							    pinfo2 *b)
{
	return list(d, 0, c, b, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d,
							     unsigned *c,
							     pinfo2 *b)
{
	return list(d, 1, c, b, 0);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d,
							 unsigned *c,
							 pinfo1 *b)
{
	return list(d, 0, c, b, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t d,
							  unsigned *c,
							  pinfo1 *b)
{
	return list(d, 1, c, b, 1);
}
