/*
 * units.c - memory sizes as people write them.
 *
 * A plain number is read as GiB: a "24 GB" card is what nvidia-smi shows
 * as 24576 MiB, so the GB of a spec sheet is the binary unit here.
 * "GB"/"G"/"GiB" are GiB, "MB"/"M"/"MiB" MiB, "KB"/"K"/"KiB" KiB, "B"
 * bytes. "TB"/"TiB" TiB. Case does not matter.
 */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *suffix;
	double scale;
} units[] = {
	{"", 1073741824.0},      {"g", 1073741824.0},
	{"gb", 1073741824.0},    {"gib", 1073741824.0},
	{"m", 1048576.0},        {"mb", 1048576.0},
	{"mib", 1048576.0},      {"k", 1024.0},
	{"kb", 1024.0},          {"kib", 1024.0},
	{"t", 1099511627776.0},  {"tb", 1099511627776.0},
	{"tib", 1099511627776.0}, {"b", 1.0},
};

vf_status vf_parse_size(const char *text, uint64_t *bytes, vf_error *err)
{
	if (!text || !*text)
		return vf_fail(err, VF_EINVAL, "empty size");
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p) && *p != '.')
		return vf_fail(err, VF_EINVAL,
			       "\"%s\" is not a size (examples: 24, 20.5, "
			       "16gb, 16376MiB)",
			       text);
	char *end;
	double v = strtod(p, &end);
	while (isspace((unsigned char)*end))
		end++;
	char suffix[8];
	size_t n = strlen(end);
	if (n >= sizeof suffix)
		return vf_fail(err, VF_EINVAL, "\"%s\": unknown unit", text);
	for (size_t i = 0; i <= n; i++)
		suffix[i] = (char)tolower((unsigned char)end[i]);
	double scale = 0;
	for (size_t i = 0; i < VF_ARRAY_LEN(units); i++)
		if (strcmp(units[i].suffix, suffix) == 0)
			scale = units[i].scale;
	if (scale == 0)
		return vf_fail(err, VF_EINVAL,
			       "\"%s\": unknown unit \"%s\" (use GB, GiB, MB, "
			       "MiB, KiB or B)",
			       text, end);
	if (!isfinite(v) || v <= 0)
		return vf_fail(err, VF_EINVAL, "\"%s\": size must be positive",
			       text);
	double b = v * scale;
	if (b >= 9.2e18)
		return vf_fail(err, VF_EOVERFLOW, "\"%s\": size too large", text);
	if (b < 1)
		return vf_fail(err, VF_EINVAL, "\"%s\": size below one byte",
			       text);
	*bytes = (uint64_t)llround(b);
	return VF_OK;
}

char *vf_format_bytes(uint64_t bytes, char *buf, size_t size)
{
	if (bytes == VF_BYTES_OVERFLOW)
		snprintf(buf, size, "overflow");
	else if (bytes >= (1ull << 30))
		snprintf(buf, size, "%.2f GiB", (double)bytes / (1ull << 30));
	else if (bytes >= (1ull << 20))
		snprintf(buf, size, "%.0f MiB", (double)bytes / (1ull << 20));
	else if (bytes >= 1024)
		snprintf(buf, size, "%.0f KiB", (double)bytes / 1024);
	else
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	return buf;
}
