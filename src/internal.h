/*
 * internal.h - helpers shared by the library's modules; not installed.
 */
#ifndef VF_INTERNAL_H
#define VF_INTERNAL_H

#include "vramfit.h"

#include <stdarg.h>
#include <stdint.h>

#if defined(__GNUC__)
#define VF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VF_PRINTF(a, b)
/* The run object as a jansson json_t (void * keeps jansson out of this
 * header's users): read from / build a new reference. */
vf_status vf_run_from_json_value(vf_run *run, char *model, size_t msize,
				 void *json_obj, vf_error *err);
void *vf_run_to_json_value(const vf_run *run, const char *model);

#endif

#define VF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Set err (if non-NULL) and return status: `return vf_fail(err, ...)`. */
vf_status vf_fail(vf_error *err, vf_status status, const char *fmt, ...)
	VF_PRINTF(3, 4);

/*
 * Saturating checked arithmetic for byte counts. A checked value carries an
 * overflow flag so long formulas can be written straight and tested once:
 * any overflow anywhere makes the final value VF_BYTES_OVERFLOW.
 */
#define VF_BYTES_OVERFLOW UINT64_MAX

static inline uint64_t vf_add(uint64_t a, uint64_t b)
{
	uint64_t r;
	if (a == VF_BYTES_OVERFLOW || b == VF_BYTES_OVERFLOW ||
	    __builtin_add_overflow(a, b, &r))
		return VF_BYTES_OVERFLOW;
	return r;
}

static inline uint64_t vf_mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	if (a == VF_BYTES_OVERFLOW || b == VF_BYTES_OVERFLOW ||
	    __builtin_mul_overflow(a, b, &r))
		return VF_BYTES_OVERFLOW;
	return r;
}

static inline uint64_t vf_mul3(uint64_t a, uint64_t b, uint64_t c)
{
	return vf_mul(vf_mul(a, b), c);
}

static inline uint64_t vf_sub_floor(uint64_t a, uint64_t b)
{
	if (a == VF_BYTES_OVERFLOW)
		return a;
	return a > b ? a - b : 0;
}

static inline uint64_t vf_max(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t vf_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ceil(a / b) for b > 0, overflow-propagating. */
static inline uint64_t vf_div_ceil(uint64_t a, uint64_t b)
{
	if (a == VF_BYTES_OVERFLOW)
		return a;
	return a / b + (a % b != 0);
}

/* Bytes of n elements of `bits` bits each, rounded up to whole bytes. */
static inline uint64_t vf_bits_to_bytes(uint64_t n, unsigned bits)
{
	return vf_div_ceil(vf_mul(n, bits), 8);
}

/* Case-insensitive ASCII string equality. */
bool vf_streq_ci(const char *a, const char *b);

/* Bounded copy that always terminates. */
void vf_strlcpy(char *dst, const char *src, size_t size);

/* Read a whole file into a malloc'd NUL-terminated buffer. */
vf_status vf_read_file(const char *path, char **out, size_t *len,
		       size_t max_len, vf_error *err);

/* The run object as a jansson json_t (void * keeps jansson out of this
 * header's users): read from / build a new reference. */
vf_status vf_run_from_json_value(vf_run *run, char *model, size_t msize,
				 void *json_obj, vf_error *err);
void *vf_run_to_json_value(const vf_run *run, const char *model);

#endif
