/*
 * gpu_table.c - the GPU table, read from the embedded data/gpus/gpus.csv.
 *
 * The CSV is parsed on every call into a caller's struct: 40-odd rows take
 * microseconds, and a lookup holds no state, so it is thread-safe and
 * allocation-free. Callers that need a spec in a loop look it up once.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char vf_gpus_csv[];
extern const size_t vf_gpus_csv_len;

/* The columns this module reads, by header name. */
enum { C_ID, C_NAME, C_CC, C_MIB, C_GIB, C_BW, C_BF16, C_FP16, C_FP32,
       C_PCIE, C_NVLINK, C_BF16_OK, C_LAPTOP, C_COUNT };
static const char *const columns[C_COUNT] = {
	[C_ID] = "id", [C_NAME] = "name", [C_CC] = "compute_capability",
	[C_MIB] = "memory_mib_reported", [C_GIB] = "memory_gib_marketed",
	[C_BW] = "memory_bandwidth_gbs", [C_BF16] = "bf16_dense_tflops",
	[C_FP16] = "fp16_dense_tflops", [C_FP32] = "fp32_tflops",
	[C_PCIE] = "pcie_gen", [C_NVLINK] = "nvlink",
	[C_BF16_OK] = "bf16_supported", [C_LAPTOP] = "laptop",
};

#define MAX_FIELDS 24
#define FIELD_LEN 64

typedef struct csv_line {
	char field[MAX_FIELDS][FIELD_LEN];
	unsigned n;
} csv_line;

/* Reads one CSV record (RFC 4180 quoting) at *pos; false at the end.
 * Fields longer than FIELD_LEN are truncated (only `source` is). */
static bool next_line(size_t *pos, csv_line *line)
{
	const char *s = (const char *)vf_gpus_csv;
	size_t i = *pos, len = vf_gpus_csv_len;
	if (i >= len)
		return false;
	memset(line, 0, sizeof *line);
	size_t k = 0;
	bool quoted = false;
	for (; i < len; i++) {
		char ch = s[i];
		if (quoted) {
			if (ch == '"' && i + 1 < len && s[i + 1] == '"')
				i++;
			else if (ch == '"') {
				quoted = false;
				continue;
			}
		} else if (ch == '"') {
			quoted = true;
			continue;
		} else if (ch == ',' || ch == '\n') {
			if (line->n < MAX_FIELDS)
				line->n++;
			k = 0;
			if (ch == '\n') {
				i++;
				break;
			}
			continue;
		} else if (ch == '\r') {
			continue;
		}
		if (line->n < MAX_FIELDS && k + 1 < FIELD_LEN)
			line->field[line->n][k++] = ch;
	}
	*pos = i;
	return true;
}

/* Column indices of the header. */
static bool header(size_t *pos, int index[C_COUNT])
{
	csv_line h;
	if (!next_line(pos, &h))
		return false;
	for (int c = 0; c < C_COUNT; c++) {
		index[c] = -1;
		for (unsigned f = 0; f < h.n; f++)
			if (strcmp(h.field[f], columns[c]) == 0)
				index[c] = (int)f;
		if (index[c] < 0)
			return false;
	}
	return true;
}

static double num(const csv_line *l, int col)
{
	return strtod(l->field[col], NULL);
}

static void to_spec(const csv_line *l, const int ix[C_COUNT], vf_gpu_spec *g)
{
	memset(g, 0, sizeof *g);
	vf_strlcpy(g->id, l->field[ix[C_ID]], sizeof g->id);
	vf_strlcpy(g->name, l->field[ix[C_NAME]], sizeof g->name);
	const char *cc = l->field[ix[C_CC]];
	g->cc_major = (unsigned)strtoul(cc, NULL, 10);
	const char *dot = strchr(cc, '.');
	g->cc_minor = dot ? (unsigned)strtoul(dot + 1, NULL, 10) : 0;
	double mib = num(l, ix[C_MIB]);
	/* Without an nvidia-smi reading, the marketed GiB. */
	g->memory_bytes = mib > 0 ? (uint64_t)mib << 20
				  : (uint64_t)(num(l, ix[C_GIB]) * 1024) << 20;
	g->bandwidth_gbs = num(l, ix[C_BW]);
	g->bf16_tflops = num(l, ix[C_BF16]);
	if (g->bf16_tflops <= 0)
		g->bf16_tflops = num(l, ix[C_FP16]);
	g->fp32_tflops = num(l, ix[C_FP32]);
	g->pcie_gen = (unsigned)num(l, ix[C_PCIE]);
	g->nvlink = strcmp(l->field[ix[C_NVLINK]], "yes") == 0;
	g->bf16 = num(l, ix[C_BF16_OK]) > 0;
	g->laptop = num(l, ix[C_LAPTOP]) > 0;
}

size_t vf_gpu_spec_count(void)
{
	size_t pos = 0, n = 0;
	int ix[C_COUNT];
	csv_line l;
	if (!header(&pos, ix))
		return 0;
	while (next_line(&pos, &l))
		n += l.n > 1;
	return n;
}

vf_status vf_gpu_spec_at(size_t index, vf_gpu_spec *out, vf_error *err)
{
	size_t pos = 0, n = 0;
	int ix[C_COUNT];
	csv_line l;
	if (!header(&pos, ix))
		return vf_fail(err, VF_EPARSE, "the built-in GPU table has no "
			       "header");
	while (next_line(&pos, &l)) {
		if (l.n <= 1)
			continue;
		if (n++ == index) {
			to_spec(&l, ix, out);
			return VF_OK;
		}
	}
	return vf_fail(err, VF_EINVAL, "GPU table: no row %zu", index);
}

/* Lowercase alphanumerics with the vendor and brand words taken out. */
static void normalize(const char *in, char *out, size_t size)
{
	static const char *const noise[] = {"nvidia", "geforce", NULL};
	char tmp[128];
	size_t k = 0;
	for (; *in && k + 1 < sizeof tmp; in++)
		if (isalnum((unsigned char)*in))
			tmp[k++] = (char)tolower((unsigned char)*in);
	tmp[k] = '\0';
	for (const char *const *w = noise; *w; w++) {
		char *p;
		while ((p = strstr(tmp, *w)))
			memmove(p, p + strlen(*w), strlen(p + strlen(*w)) + 1);
	}
	vf_strlcpy(out, tmp, size);
}

vf_status vf_gpu_spec_find(const char *name, vf_gpu_spec *out, vf_error *err)
{
	char want[128], id[128], full[128];
	normalize(name ? name : "", want, sizeof want);
	if (!want[0])
		return vf_fail(err, VF_EINVAL, "no GPU name given");
	size_t n = vf_gpu_spec_count(), prefixes = 0;
	char candidates[160] = "";
	vf_gpu_spec g, first = {0};
	for (size_t i = 0; i < n; i++) {
		if (vf_gpu_spec_at(i, &g, err))
			return err->status;
		normalize(g.id, id, sizeof id);
		normalize(g.name, full, sizeof full);
		if (strcmp(id, want) == 0 || strcmp(full, want) == 0) {
			*out = g;
			return VF_OK;
		}
		if (strncmp(id, want, strlen(want)) == 0 ||
		    strncmp(full, want, strlen(want)) == 0) {
			if (!prefixes++)
				first = g;
			size_t used = strlen(candidates);
			snprintf(candidates + used, sizeof candidates - used,
				 "%s%s", used ? ", " : "", g.id);
		}
	}
	if (prefixes == 1) {
		*out = first;
		return VF_OK;
	}
	if (prefixes > 1)
		return vf_fail(err, VF_EINVAL, "GPU \"%s\" is ambiguous: %s",
			       name, candidates);
	return vf_fail(err, VF_ENOTFOUND,
		       "unknown GPU \"%s\" (vramfit gpus --known lists the "
		       "table)", name);
}
