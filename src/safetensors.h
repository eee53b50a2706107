/*
 * safetensors.h - the header of a .safetensors file and the shard index
 * (model.safetensors.index.json). Internal to the library; the fuzz targets
 * and tests call it directly.
 */
#ifndef VF_SAFETENSORS_H
#define VF_SAFETENSORS_H

#include "vramfit.h"

/* The format caps the JSON header at 100 MB (safetensors N_MAX_HEADER). */
#define VF_ST_HEADER_MAX (100ull * 1000 * 1000)

/* Name patterns that mark a checkpoint as already quantized. */
enum {
	VF_ST_MARK_BNB4 = 1u << 0,  /* .absmax / quant_state.bitsandbytes__nf4 */
	VF_ST_MARK_BNB8 = 1u << 1,  /* .SCB */
	VF_ST_MARK_QWEIGHT = 1u << 2, /* .qweight (GPTQ, AWQ) */
	VF_ST_MARK_GIDX = 1u << 3,  /* .g_idx (GPTQ only) */
	VF_ST_MARK_FP8 = 1u << 4,   /* F8_* dtypes, .weight_scale(_inv) */
};

/* Shapes of well-known tensors, for configs whose model_type is unknown. */
typedef struct vf_st_shapes {
	uint64_t vocab, hidden;      /* token embedding [vocab, hidden] */
	uint64_t layers;             /* highest layer index + 1 */
	uint64_t inter;              /* up/fc1 rows */
	uint64_t q_out, kv_out;      /* q_proj / k_proj rows */
	bool gated;                  /* a gate_proj exists */
	bool lm_head;                /* an untied lm_head exists */
} vf_st_shapes;

/* What the headers of one or more files hold, summed. */
typedef struct vf_st_summary {
	uint64_t tensors, elements, bytes;
	vf_dtype_count dtypes[VF_SOURCE_MAX_DTYPES];
	unsigned n_dtypes;
	unsigned marks;              /* VF_ST_MARK_* */
	/* Buffers saved beside the parameters (rotary inv_freq, GPT-2's
	 * causal mask): not counted in tensors/elements/bytes. */
	uint64_t buffers;
	vf_st_shapes shapes;
} vf_st_summary;

/*
 * The header length from the first 8 bytes (little-endian u64). Refuses 0,
 * more than VF_ST_HEADER_MAX and, when file_size is known (not UINT64_MAX),
 * more than the file holds.
 */
vf_status vf_st_header_length(const unsigned char prefix[8], uint64_t file_size,
			      uint64_t *len, const char *where, vf_error *err);

/*
 * Adds the tensors of one header (the JSON text after the length) to `sum`.
 * `data_size` is the byte count after the header when known, else
 * UINT64_MAX; data_offsets must lie inside it. Every element count and byte
 * count is overflow-checked; offsets must match dtype x shape.
 */
vf_status vf_st_parse_header(vf_st_summary *sum, const char *json, size_t len,
			     uint64_t data_size, const char *where,
			     vf_error *err);

/* Reads and adds the header of a file (a full checkpoint or a header-only
 * copy from the cache). */
vf_status vf_st_read_file(vf_st_summary *sum, const char *path, vf_error *err);

#define VF_ST_NAME_MAX 256
typedef char vf_st_name[VF_ST_NAME_MAX];

/*
 * The distinct shard files of an index, in first-seen order, as a malloc'd
 * array (free with free()). Shard names must be plain file names ending in
 * .safetensors: they become paths and URLs.
 */
vf_status vf_st_parse_index(const char *json, size_t len, vf_st_name **shards,
			    size_t *n, const char *where, vf_error *err);

/* True when `name` is a safe shard file name (no '/', no "..", *.safetensors). */
bool vf_st_shard_name_ok(const char *name);

#endif
