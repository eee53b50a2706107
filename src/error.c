/* error.c - error values with one-line messages. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[VF_STATUS_COUNT] = {
	[VF_OK] = "ok",
	[VF_EINVAL] = "invalid value",
	[VF_ENOMEM] = "out of memory",
	[VF_EOVERFLOW] = "size overflow",
	[VF_EIO] = "i/o error",
	[VF_EPARSE] = "parse error",
	[VF_ENOTFOUND] = "not found",
	[VF_EUNSUPPORTED] = "not supported",
	[VF_EEXIST] = "file exists",
	[VF_ENET] = "network error",
	[VF_EAUTH] = "authentication required",
	[VF_ENODEV] = "no GPU",
};

const char *vf_status_name(vf_status status)
{
	if ((unsigned)status >= VF_STATUS_COUNT)
		return "unknown status";
	return status_names[status];
}

const char *vf_version(void) { return VRAMFIT_VERSION; }

vf_status vf_fail(vf_error *err, vf_status status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
		/* Messages are one line: fold any newline a caller passed in. */
		for (char *p = err->message; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		err->status = status;
	}
	return status;
}

bool vf_streq_ci(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

void vf_strlcpy(char *dst, const char *src, size_t size)
{
	if (size == 0)
		return;
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

vf_status vf_read_file(const char *path, char **out, size_t *len,
		       size_t max_len, vf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return vf_fail(err, errno == ENOENT ? VF_ENOTFOUND : VF_EIO,
			       "%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return vf_fail(err, VF_ENOMEM, "%s: out of memory", path);
	}
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max_len) {
				free(buf);
				fclose(f);
				return vf_fail(err, VF_EINVAL,
					       "%s: larger than %zu bytes", path,
					       max_len);
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return vf_fail(err, VF_ENOMEM,
					       "%s: out of memory", path);
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		free(buf);
		return vf_fail(err, VF_EIO, "%s: read error", path);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return VF_OK;
}
