/*
 * safetensors.c - read what a .safetensors header says without touching
 * the weights.
 *
 * Format (github.com/huggingface/safetensors, "Format"): 8 bytes, a
 * little-endian u64 N; N bytes of JSON, an object mapping tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
 * "__metadata__" object of strings; then the data. The headers come from the
 * network, so everything is checked: N against the 100 MB cap and the file
 * size, every shape product and byte count for 64-bit overflow, offsets
 * against dtype x shape and the data size. Duplicate keys are refused.
 *
 * Not done here: reading tensor data, and checking that tensors do not
 * overlap (it does not change any count we report).
 */
#include "safetensors.h"
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bits per element, as the safetensors Dtype enum defines them. */
static const struct {
	const char *name;
	unsigned bits;
} st_dtypes[] = {
	{"BOOL", 8},    {"U8", 8},      {"I8", 8},       {"F8_E5M2", 8},
	{"F8_E4M3", 8}, {"F8_E8M0", 8}, {"I16", 16},     {"U16", 16},
	{"F16", 16},    {"BF16", 16},   {"I32", 32},     {"U32", 32},
	{"F32", 32},    {"F64", 64},    {"I64", 64},     {"U64", 64},
	{"C64", 64},    {"F4", 4},      {"F6_E2M3", 6},  {"F6_E3M2", 6},
};

static unsigned dtype_bits(const char *name)
{
	for (size_t i = 0; i < VF_ARRAY_LEN(st_dtypes); i++)
		if (strcmp(st_dtypes[i].name, name) == 0)
			return st_dtypes[i].bits;
	return 0;
}

vf_status vf_st_header_length(const unsigned char prefix[8], uint64_t file_size,
			      uint64_t *len, const char *where, vf_error *err)
{
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | prefix[i];
	if (n == 0)
		return vf_fail(err, VF_EPARSE, "%s: empty safetensors header",
			       where);
	if (n > VF_ST_HEADER_MAX)
		return vf_fail(err, VF_EPARSE,
			       "%s: safetensors header claims %llu bytes, more "
			       "than the format's 100 MB limit",
			       where, (unsigned long long)n);
	if (file_size != UINT64_MAX && (file_size < 8 || n > file_size - 8))
		return vf_fail(err, VF_EPARSE,
			       "%s: truncated: header of %llu bytes, file of %llu",
			       where, (unsigned long long)n,
			       (unsigned long long)file_size);
	*len = n;
	return VF_OK;
}

static void add_dtype(vf_st_summary *sum, const char *dtype, uint64_t elems,
		      uint64_t bytes)
{
	unsigned i;
	for (i = 0; i < sum->n_dtypes; i++)
		if (strcmp(sum->dtypes[i].dtype, dtype) == 0)
			break;
	if (i == sum->n_dtypes) {
		if (i == VF_SOURCE_MAX_DTYPES)
			return; /* a 17th distinct dtype: in the totals only */
		vf_strlcpy(sum->dtypes[i].dtype, dtype, sizeof sum->dtypes[i].dtype);
		sum->n_dtypes++;
	}
	sum->dtypes[i].tensors++;
	sum->dtypes[i].elements = vf_add(sum->dtypes[i].elements, elems);
	sum->dtypes[i].bytes = vf_add(sum->dtypes[i].bytes, bytes);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Tensor-name suffixes that betray a quantized checkpoint. */
static const struct {
	const char *suffix;
	unsigned mark;
} quant_suffixes[] = {
	{".absmax", VF_ST_MARK_BNB4},
	{".quant_map", VF_ST_MARK_BNB4},
	{".quant_state.bitsandbytes__nf4", VF_ST_MARK_BNB4},
	{".quant_state.bitsandbytes__fp4", VF_ST_MARK_BNB4},
	{".SCB", VF_ST_MARK_BNB8},
	{".qweight", VF_ST_MARK_QWEIGHT},
	{".g_idx", VF_ST_MARK_GIDX},
	{".weight_scale_inv", VF_ST_MARK_FP8},
	{".weight_scale", VF_ST_MARK_FP8},
};

/* Known tensor names -> the dimension their shape gives away. The first
 * dimension of a torch Linear weight is out_features. */
enum { S_EMBED, S_UP, S_GATE, S_Q, S_K, S_LM_HEAD };
static const struct {
	const char *suffix;
	int what;
} shape_suffixes[] = {
	{"embed_tokens.weight", S_EMBED}, {"wte.weight", S_EMBED},
	{"embed_in.weight", S_EMBED},     {"word_embeddings.weight", S_EMBED},
	{"mlp.up_proj.weight", S_UP},     {"mlp.fc1.weight", S_UP},
	{"mlp.dense_h_to_4h.weight", S_UP},
	{"mlp.gate_proj.weight", S_GATE}, {"self_attn.q_proj.weight", S_Q},
	{"self_attn.k_proj.weight", S_K}, {"lm_head.weight", S_LM_HEAD},
	{"embed_out.weight", S_LM_HEAD},
};

/* "model.layers.12.mlp..." -> 12; -1 when the name has no layer index. */
static long layer_index(const char *name)
{
	static const char *const keys[] = {".layers.", ".h.", ".blocks."};
	for (size_t i = 0; i < VF_ARRAY_LEN(keys); i++) {
		const char *p = strstr(name, keys[i]);
		if (!p)
			continue;
		p += strlen(keys[i]);
		long v = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 7)
			v = v * 10 + (*p++ - '0'), digits++;
		if (digits && *p == '.')
			return v;
	}
	return -1;
}

static void note_shape(vf_st_shapes *s, const char *name, const uint64_t *dims,
		       size_t n_dims)
{
	long li = layer_index(name);
	if (li >= 0 && (uint64_t)li + 1 > s->layers)
		s->layers = (uint64_t)li + 1;
	if (n_dims != 2)
		return;
	for (size_t i = 0; i < VF_ARRAY_LEN(shape_suffixes); i++) {
		if (!ends_with(name, shape_suffixes[i].suffix))
			continue;
		switch (shape_suffixes[i].what) {
		case S_EMBED:
			s->vocab = dims[0];
			s->hidden = dims[1];
			break;
		case S_UP:
			s->inter = dims[0];
			break;
		case S_GATE:
			s->gated = true;
			break;
		case S_Q:
			s->q_out = dims[0];
			break;
		case S_K:
			s->kv_out = dims[0];
			break;
		case S_LM_HEAD:
			s->lm_head = true;
			break;
		}
		return;
	}
}

#define ST_MAX_DIMS 8

/* Non-parameter buffers some exporters saved: RoPE's inv_freq (older
 * Llama conversions) and GPT-2's causal mask attn.bias / attn.masked_bias
 * ([1, 1, n, n], a registered buffer of GPT2Attention). Counting them would
 * make the headers disagree with every config. */
static bool is_buffer(const char *name, size_t n_dims)
{
	if (ends_with(name, ".rotary_emb.inv_freq") ||
	    ends_with(name, ".attn.masked_bias"))
		return true;
	return n_dims == 4 && ends_with(name, ".attn.bias");
}

static vf_status read_tensor(vf_st_summary *sum, const char *name, json_t *t,
			     uint64_t data_size, const char *where,
			     vf_error *err)
{
	if (!json_is_object(t))
		return vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\" is not an "
			       "object", where, name);
	const char *dtype = json_string_value(json_object_get(t, "dtype"));
	json_t *shape = json_object_get(t, "shape");
	json_t *offs = json_object_get(t, "data_offsets");
	if (!dtype || !json_is_array(shape) || !json_is_array(offs) ||
	    json_array_size(offs) != 2)
		return vf_fail(err, VF_EPARSE,
			       "%s: tensor \"%.80s\" lacks dtype, shape or "
			       "data_offsets", where, name);
	unsigned bits = dtype_bits(dtype);
	if (!bits)
		return vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\": unknown "
			       "dtype \"%.16s\"", where, name, dtype);
	size_t n_dims = json_array_size(shape);
	if (n_dims > ST_MAX_DIMS)
		return vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\" has %zu "
			       "dimensions", where, name, n_dims);
	uint64_t dims[ST_MAX_DIMS], elems = 1;
	for (size_t i = 0; i < n_dims; i++) {
		json_t *d = json_array_get(shape, i);
		if (!json_is_integer(d) || json_integer_value(d) < 0)
			return vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\": "
				       "bad shape", where, name);
		dims[i] = (uint64_t)json_integer_value(d);
		elems = vf_mul(elems, dims[i]);
	}
	uint64_t bytes = vf_bits_to_bytes(elems, bits);
	if (bytes == VF_BYTES_OVERFLOW)
		return vf_fail(err, VF_EOVERFLOW, "%s: tensor \"%.80s\": size "
			       "overflows 64 bits", where, name);
	json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
	if (!json_is_integer(b) || !json_is_integer(e) ||
	    json_integer_value(b) < 0 ||
	    json_integer_value(e) < json_integer_value(b))
		return vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\": bad "
			       "data_offsets", where, name);
	uint64_t begin = (uint64_t)json_integer_value(b);
	uint64_t end = (uint64_t)json_integer_value(e);
	if (end - begin != bytes)
		return vf_fail(err, VF_EPARSE,
			       "%s: tensor \"%.80s\": %llu bytes of data for a "
			       "%s tensor of %llu elements", where, name,
			       (unsigned long long)(end - begin), dtype,
			       (unsigned long long)elems);
	if (data_size != UINT64_MAX && end > data_size)
		return vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\" ends past "
			       "the end of the file", where, name);

	if (is_buffer(name, n_dims)) {
		sum->buffers++;
		return VF_OK;
	}
	sum->tensors++;
	sum->elements = vf_add(sum->elements, elems);
	sum->bytes = vf_add(sum->bytes, bytes);
	if (sum->elements == VF_BYTES_OVERFLOW || sum->bytes == VF_BYTES_OVERFLOW)
		return vf_fail(err, VF_EOVERFLOW, "%s: tensor sizes overflow "
			       "64 bits", where);
	add_dtype(sum, dtype, elems, bytes);
	if (strncmp(dtype, "F8_", 3) == 0)
		sum->marks |= VF_ST_MARK_FP8;
	for (size_t i = 0; i < VF_ARRAY_LEN(quant_suffixes); i++)
		if (ends_with(name, quant_suffixes[i].suffix))
			sum->marks |= quant_suffixes[i].mark;
	note_shape(&sum->shapes, name, dims, n_dims);
	return VF_OK;
}

vf_status vf_st_parse_header(vf_st_summary *sum, const char *json, size_t len,
			     uint64_t data_size, const char *where,
			     vf_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return vf_fail(err, VF_EPARSE, "%s: header JSON: %s (line %d)",
			       where, jerr.text, jerr.line);
	vf_status st = VF_OK;
	if (!json_is_object(root))
		st = vf_fail(err, VF_EPARSE, "%s: header is not a JSON object",
			     where);
	const char *name;
	json_t *t;
	json_object_foreach(root, name, t) {
		if (st)
			break;
		if (strcmp(name, "__metadata__") == 0)
			continue;
		st = read_tensor(sum, name, t, data_size, where, err);
	}
	json_decref(root);
	return st;
}

vf_status vf_st_read_file(vf_st_summary *sum, const char *path, vf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return vf_fail(err, errno == ENOENT ? VF_ENOTFOUND : VF_EIO,
			       "%s: %s", path, strerror(errno));
	struct stat sb;
	unsigned char prefix[8];
	uint64_t len = 0;
	char *buf = NULL;
	vf_status st;
	if (fstat(fileno(f), &sb) != 0) {
		st = vf_fail(err, VF_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fread(prefix, 1, 8, f) != 8) {
		st = vf_fail(err, VF_EPARSE, "%s: truncated: shorter than the "
			     "8-byte header length", path);
		goto out;
	}
	if ((st = vf_st_header_length(prefix, (uint64_t)sb.st_size, &len, path,
				      err)))
		goto out;
	buf = malloc(len);
	if (!buf) {
		st = vf_fail(err, VF_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (fread(buf, 1, len, f) != len) {
		st = vf_fail(err, VF_EIO, "%s: short read", path);
		goto out;
	}
	/* A header-only copy from the cache has no data after the header. */
	uint64_t data = (uint64_t)sb.st_size - 8 - len;
	st = vf_st_parse_header(sum, buf, len, data ? data : UINT64_MAX, path,
				err);
out:
	free(buf);
	fclose(f);
	return st;
}

bool vf_st_shard_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= VF_ST_NAME_MAX || name[0] == '.' ||
	    !ends_with(name, ".safetensors"))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20 ||
		    *p == '%' || *p == '?' || *p == '#')
			return false;
	return strstr(name, "..") == NULL;
}

vf_status vf_st_parse_index(const char *json, size_t len, vf_st_name **shards,
			    size_t *n, const char *where, vf_error *err)
{
	*shards = NULL;
	*n = 0;
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return vf_fail(err, VF_EPARSE, "%s:%d:%d: %s", where, jerr.line,
			       jerr.column, jerr.text);
	vf_status st = VF_OK;
	json_t *map = json_object_get(root, "weight_map");
	if (!json_is_object(map)) {
		st = vf_fail(err, VF_EPARSE, "%s: no \"weight_map\" object",
			     where);
		goto out;
	}
	size_t cap = 0;
	const char *tensor;
	json_t *v;
	json_object_foreach(map, tensor, v) {
		const char *file = json_string_value(v);
		if (!file || !vf_st_shard_name_ok(file)) {
			st = vf_fail(err, VF_EPARSE, "%s: tensor \"%.80s\": bad "
				     "shard file name", where, tensor);
			goto out;
		}
		size_t i;
		for (i = 0; i < *n; i++)
			if (strcmp((*shards)[i], file) == 0)
				break;
		if (i < *n)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			vf_st_name *ns = realloc(*shards, nc * sizeof *ns);
			if (!ns) {
				st = vf_fail(err, VF_ENOMEM, "%s: out of memory",
					     where);
				goto out;
			}
			*shards = ns;
			cap = nc;
		}
		vf_strlcpy((*shards)[(*n)++], file, VF_ST_NAME_MAX);
	}
	if (*n == 0)
		st = vf_fail(err, VF_EPARSE, "%s: \"weight_map\" is empty", where);
out:
	json_decref(root);
	if (st) {
		free(*shards);
		*shards = NULL;
		*n = 0;
	}
	return st;
}
