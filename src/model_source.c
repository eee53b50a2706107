/*
 * model_source.c - a --model spec into a model: built-in name, config.json,
 * model folder, the Hugging Face cache, vramfit's header cache, the Hub.
 *
 * The config says what the architecture is; the safetensors headers say
 * what is stored. When both exist and disagree, sizes trust the headers
 * (a config can omit tensors; a header cannot) and the disagreement goes
 * into info->warnings. Order and layout: docs/models.md.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hfcache.h"
#include "hub.h"
#include "safetensors.h"

#define CONFIG_MAX (16u << 20)
#define INDEX_MAX (64u << 20)
#define INDEX_NAME "model.safetensors.index.json"
#define SINGLE_NAME "model.safetensors"

/* Everything one resolution carries between its steps. */
typedef struct ctx {
	const vf_source_opts *opts;
	bool offline;
	vf_hub hub;
	bool hub_ready;
	char hf_cache[VF_PATH_MAX];
	char vf_cache[VF_PATH_MAX];
	vf_source_info *info;
	vf_st_summary sum;
	bool headers_from_vf_cache;
	bool fetched;
	char name[128];           /* a folder's model name */
} ctx;

static void warn(ctx *c, const char *fmt, ...) VF_PRINTF(2, 3);
static void warn(ctx *c, const char *fmt, ...)
{
	vf_source_info *i = c->info;
	if (i->n_warnings >= VF_SOURCE_MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(i->warnings[i->n_warnings++], sizeof i->warnings[0], fmt, ap);
	va_end(ap);
}

static bool exists(const char *path, bool dir)
{
	struct stat sb;
	return stat(path, &sb) == 0 && (dir ? S_ISDIR(sb.st_mode)
					    : S_ISREG(sb.st_mode));
}

static vf_hub *hub(ctx *c)
{
	if (!c->hub_ready) {
		vf_hub_init(&c->hub, c->opts);
		c->hub_ready = true;
	}
	return &c->hub;
}

/* ---- the headers ------------------------------------------------------ */

/* vramfit's copy of a header: <cache>/headers/models--org--name/<commit>/
 * <shard>.header, holding the 8-byte length and the JSON. Not under the HF
 * cache: there a partial .safetensors would pass for a real one. */
static vf_status header_cache_path(ctx *c, const vf_repo_id *id,
				   const char *commit, const char *shard,
				   char *out, size_t size, vf_error *err)
{
	char folder[600], file[VF_ST_NAME_MAX + 16];
	size_t o = (size_t)snprintf(folder, sizeof folder, "headers/models--");
	for (const char *p = id->repo; *p && o + 3 < sizeof folder; p++)
		o += (size_t)snprintf(folder + o, sizeof folder - o, "%s",
				      *p == '/' ? "--" : (char[]){*p, 0});
	snprintf(file, sizeof file, "%s.header", shard);
	char mid[700];
	snprintf(mid, sizeof mid, "%s/%s", folder, commit);
	return vf_path_join(out, size, err, c->vf_cache, mid, file);
}

/* Fetches a shard's header with two Range requests: the 8-byte length,
 * then length and header together (so a server that ignores Range still
 * gives the right bytes, cut off where we stop reading). */
static vf_status fetch_header(ctx *c, const vf_repo_id *id, const char *rev,
			      const char *shard, unsigned char **out,
			      size_t *out_len, uint64_t *data_size,
			      vf_error *err)
{
	vf_hub_body b;
	vf_status st = vf_hub_get(hub(c), id->repo, rev, shard, 0, 8, 0, &b,
				  err);
	if (st)
		return st;
	uint64_t n;
	char where[400];
	snprintf(where, sizeof where, "%s: %s", id->repo, shard);
	st = vf_st_header_length((const unsigned char *)b.data, b.total, &n,
				 where, err);
	uint64_t total = b.total;
	vf_hub_body_free(&b);
	if (st)
		return st;
	if ((st = vf_hub_get(hub(c), id->repo, rev, shard, 0, 8 + n, 0, &b,
			     err)))
		return st;
	*out = (unsigned char *)b.data;
	*out_len = b.len;
	*data_size = total != UINT64_MAX ? total - 8 - n : UINT64_MAX;
	c->fetched = true;
	return VF_OK;
}

/* Adds one shard of a Hub repo: from `local` if it is there, else from
 * vramfit's cache, else fetched (online). false in *missing when it could
 * not be had offline. */
static vf_status add_hub_shard(ctx *c, const vf_repo_id *id,
			       const char *commit, const char *local,
			       const char *shard, bool *missing, vf_error *err)
{
	char path[VF_PATH_MAX];
	vf_status st;
	*missing = false;
	if (local) {
		if ((st = vf_path_join(path, sizeof path, err, local, shard,
				       NULL)))
			return st;
		if (exists(path, false))
			return vf_st_read_file(&c->sum, path, err);
	}
	if ((st = header_cache_path(c, id, commit, shard, path, sizeof path,
				    err)))
		return st;
	if (exists(path, false)) {
		c->headers_from_vf_cache = true;
		return vf_st_read_file(&c->sum, path, err);
	}
	if (c->offline) {
		*missing = true;
		return VF_OK;
	}
	unsigned char *buf;
	size_t len;
	uint64_t data_size;
	if ((st = fetch_header(c, id, commit, shard, &buf, &len, &data_size,
			       err)))
		return st;
	char where[400];
	snprintf(where, sizeof where, "%s: %s", id->repo, shard);
	st = vf_st_parse_header(&c->sum, (const char *)buf + 8, len - 8,
				data_size, where, err);
	if (!st) {
		vf_error werr;
		if (vf_write_file_atomic(path, buf, len, &werr))
			warn(c, "not cached: %s", werr.message);
	}
	free(buf);
	return st;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The shard names of a folder: its index, else every *.safetensors. */
static vf_status folder_shards(const char *dir, vf_st_name **shards,
			       size_t *n, vf_error *err)
{
	char path[VF_PATH_MAX];
	vf_status st = vf_path_join(path, sizeof path, err, dir, INDEX_NAME,
				    NULL);
	if (st)
		return st;
	*shards = NULL;
	*n = 0;
	if (exists(path, false)) {
		char *text;
		size_t len;
		if ((st = vf_read_file(path, &text, &len, INDEX_MAX, err)))
			return st;
		st = vf_st_parse_index(text, len, shards, n, path, err);
		free(text);
		return st;
	}
	DIR *d = opendir(dir);
	if (!d)
		return vf_fail(err, VF_EIO, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d))) {
		if (!vf_st_shard_name_ok(e->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			vf_st_name *p = realloc(*shards, cap * sizeof *p);
			if (!p) {
				closedir(d);
				free(*shards);
				*shards = NULL;
				return vf_fail(err, VF_ENOMEM, "out of memory");
			}
			*shards = p;
		}
		vf_strlcpy((*shards)[(*n)++], e->d_name, VF_ST_NAME_MAX);
	}
	closedir(d);
	/* readdir order is arbitrary; sums are not, but keep it stable */
	if (*n > 1)
		qsort(*shards, *n, sizeof **shards, by_name);
	return VF_OK;
}

/* ---- combining config and headers ------------------------------------ */

static vf_prequant prequant_of(json_t *root, unsigned marks)
{
	if (marks & VF_ST_MARK_BNB4)
		return VF_PREQUANT_BNB_4BIT;
	if (marks & VF_ST_MARK_BNB8)
		return VF_PREQUANT_BNB_8BIT;
	if (marks & VF_ST_MARK_QWEIGHT)
		return marks & VF_ST_MARK_GIDX ? VF_PREQUANT_GPTQ
					       : VF_PREQUANT_AWQ;
	if (marks & VF_ST_MARK_FP8)
		return VF_PREQUANT_FP8;
	json_t *q = json_object_get(root, "quantization_config");
	const char *m = json_string_value(json_object_get(q, "quant_method"));
	if (!m)
		return VF_PREQUANT_NONE;
	static const struct {
		const char *method;
		vf_prequant q;
	} methods[] = {
		{"gptq", VF_PREQUANT_GPTQ}, {"awq", VF_PREQUANT_AWQ},
		{"fp8", VF_PREQUANT_FP8},
	};
	for (size_t i = 0; i < VF_ARRAY_LEN(methods); i++)
		if (strcmp(m, methods[i].method) == 0)
			return methods[i].q;
	if (strcmp(m, "bitsandbytes") == 0)
		return json_is_true(json_object_get(q, "load_in_8bit"))
			       ? VF_PREQUANT_BNB_8BIT
			       : VF_PREQUANT_BNB_4BIT;
	return VF_PREQUANT_OTHER;
}

static int by_bytes(const void *a, const void *b)
{
	const vf_dtype_count *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* The dtype most bytes are stored in, when it is a plain float type. */
static bool stored_dtype(const vf_source_info *i, vf_dtype *out)
{
	static const struct {
		const char *st;
		vf_dtype dt;
	} map[] = {{"F32", VF_DTYPE_FP32}, {"F16", VF_DTYPE_FP16},
		   {"BF16", VF_DTYPE_BF16}};
	if (!i->n_dtypes)
		return false;
	for (size_t k = 0; k < VF_ARRAY_LEN(map); k++)
		if (strcmp(i->dtypes[0].dtype, map[k].st) == 0) {
			*out = map[k].dt;
			return true;
		}
	return false;
}

/*
 * An architecture from tensor shapes, for a model_type the table does not
 * know: the dimensions the headers show, the head count from the config
 * when it has one. Enough for activations; the parameter count is the
 * headers' own, exactly.
 */
static vf_status arch_from_shapes(ctx *c, json_t *root, vf_arch *a,
				  const char *where, vf_error *err)
{
	const vf_st_shapes *s = &c->sum.shapes;
	if (!s->vocab || !s->hidden || !s->layers || !s->inter || !s->q_out)
		return VF_ENOTFOUND;
	memset(a, 0, sizeof *a);
	const char *mt = json_string_value(json_object_get(root, "model_type"));
	vf_strlcpy(a->model_type, mt ? mt : "unknown", sizeof a->model_type);
	a->vocab_size = s->vocab;
	a->hidden_size = s->hidden;
	a->num_layers = s->layers;
	a->intermediate_size = s->inter;
	a->mlp = s->gated ? VF_MLP_GATED : VF_MLP_PLAIN;
	a->norm = VF_NORM_RMS;
	a->norms_per_layer = 2;
	a->tie_embeddings = !s->lm_head;
	a->dtype = VF_DTYPE_FP32;
	json_t *h = json_object_get(root, "num_attention_heads");
	uint64_t heads = json_is_integer(h) && json_integer_value(h) > 0
				 ? (uint64_t)json_integer_value(h)
				 : s->q_out / 128;
	if (!heads || s->q_out % heads)
		return vf_fail(err, VF_EUNSUPPORTED,
			       "%s: unknown model_type and no head count to "
			       "go with q_proj rows %llu", where,
			       (unsigned long long)s->q_out);
	a->num_heads = heads;
	a->head_dim = s->q_out / heads;
	a->num_kv_heads = s->kv_out && s->kv_out % a->head_dim == 0
				  ? s->kv_out / a->head_dim
				  : heads;
	return VF_OK;
}

/*
 * Builds the model from a config text and whatever headers were read into
 * c->sum, and fills the info's header fields and warnings.
 */
static vf_status combine(ctx *c, vf_model *out, const char *name,
			 const char *where, const char *text, size_t len,
			 vf_error *err)
{
	vf_source_info *info = c->info;
	/* A local file: errors name its path and the model is named by its
	 * _name_or_path, as for a config.json given directly. */
	vf_status st = name ? vf_model_from_config_json(out, name, text, len, err)
			    : vf_model_from_config_file(out, where, err);
	json_t *root = json_loadb(text, len, 0, NULL);
	vf_st_summary *s = &c->sum;
	if (st == VF_EUNSUPPORTED && root && info->n_shards) {
		vf_arch a;
		vf_error e2;
		vf_status s2 = arch_from_shapes(c, root, &a, where, &e2);
		if (s2 == VF_OK)
			s2 = vf_model_init(out, name ? name : c->name, &a, &e2);
		if (s2 == VF_OK) {
			info->arch_from_headers = true;
			warn(c, "%s: model_type \"%s\" is not in vramfit's table; "
			     "the architecture is read from tensor shapes",
			     where, a.model_type);
			st = VF_OK;
		} else if (s2 != VF_ENOTFOUND) {
			st = s2;
			if (err)
				*err = e2;
		}
	}
	if (st) {
		json_decref(root);
		return st;
	}

	info->header_tensors = s->tensors;
	info->header_elements = s->elements;
	info->header_bytes = s->bytes;
	info->n_dtypes = s->n_dtypes;
	memcpy(info->dtypes, s->dtypes, sizeof info->dtypes);
	qsort(info->dtypes, info->n_dtypes, sizeof info->dtypes[0], by_bytes);
	info->config_params = out->params.total;
	info->prequant = prequant_of(root, info->n_shards ? s->marks : 0);
	json_decref(root);
	if (!info->n_shards)
		return VF_OK;

	/* A tied model saved with both copies stores lm_head twice; in
	 * memory it is one tensor. */
	uint64_t stored = s->elements;
	if (out->arch.tie_embeddings && s->shapes.lm_head &&
	    !info->arch_from_headers)
		stored = vf_sub_floor(stored, out->params.embed);
	if (info->prequant != VF_PREQUANT_NONE) {
		warn(c, "%s: the checkpoint is stored quantized (%s); the "
		     "parameter count is the config's, and the stored tensors "
		     "(%llu bytes) are not what --quant none assumes: give "
		     "--quant to match it", where,
		     vf_prequant_name(info->prequant),
		     (unsigned long long)s->bytes);
	} else if (info->arch_from_headers || stored != info->config_params) {
		if (!info->arch_from_headers)
			warn(c, "%s: the safetensors headers hold %llu "
			     "parameters, the config implies %llu; sizes use the "
			     "headers", where, (unsigned long long)stored,
			     (unsigned long long)info->config_params);
		if (stored >= 1000000000000ull)
			return vf_fail(err, VF_EINVAL, "%s: headers claim %llu "
				       "parameters; vramfit models up to 1e12",
				       where, (unsigned long long)stored);
		out->params.total = stored;
		info->params_from_headers = true;
	}
	vf_dtype dt;
	if (info->prequant == VF_PREQUANT_NONE && stored_dtype(info, &dt) &&
	    dt != out->arch.dtype) {
		warn(c, "%s: config says torch_dtype %s, the weights are stored "
		     "as %s", where, vf_dtype_name(out->arch.dtype),
		     info->dtypes[0].dtype);
		out->arch.dtype = dt;
	}
	return VF_OK;
}

/* ---- local paths ------------------------------------------------------ */

static vf_status read_text(const char *path, char **text, size_t *len,
			   vf_error *err)
{
	return vf_read_file(path, text, len, CONFIG_MAX, err);
}

/* A config's own name for the model (_name_or_path), else `fallback`. */
static void name_of(const char *text, size_t len, const char *fallback,
		    char *out, size_t size)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	const char *np = json_string_value(json_object_get(root, "_name_or_path"));
	vf_strlcpy(out, np && *np ? np : fallback, size);
	json_decref(root);
}

static vf_status resolve_folder(ctx *c, const char *dir, vf_model *out,
				vf_error *err)
{
	char path[VF_PATH_MAX];
	vf_status st = vf_path_join(path, sizeof path, err, dir, "config.json",
				    NULL);
	if (st)
		return st;
	if (!exists(path, false))
		return vf_fail(err, VF_ENOTFOUND, "%s: a folder without "
			       "config.json", dir);
	vf_st_name *shards;
	size_t n;
	if ((st = folder_shards(dir, &shards, &n, err)))
		return st;
	for (size_t i = 0; i < n && !st; i++) {
		char sp[VF_PATH_MAX];
		if (!(st = vf_path_join(sp, sizeof sp, err, dir, shards[i],
					NULL)))
			st = vf_st_read_file(&c->sum, sp, err);
	}
	free(shards);
	if (st)
		return st;
	c->info->n_shards = (unsigned)n;
	char *text;
	size_t len;
	if ((st = read_text(path, &text, &len, err)))
		return st;
	name_of(text, len, dir, c->name, sizeof c->name);
	st = combine(c, out, NULL, path, text, len, err);
	free(text);
	return st;
}

/* ---- Hub ids ----------------------------------------------------------- */

/* The shards of a repo whose config is in `snap` (NULL: nothing on disk,
 * nothing to write): the index in the snapshot, else fetched, else
 * model.safetensors alone.
 * *n == 0 with VF_OK: none could be found (offline) or the repo has no
 * safetensors. */
static vf_status hub_shards(ctx *c, const vf_repo_id *id, const char *commit,
			    const char *snap, vf_st_name **shards, size_t *n,
			    vf_error *err)
{
	char path[VF_PATH_MAX] = "";
	vf_status st;
	if (snap && (st = vf_path_join(path, sizeof path, err, snap, INDEX_NAME,
				       NULL)))
		return st;
	*shards = NULL;
	*n = 0;
	char *text = NULL;
	size_t len = 0;
	if (snap && exists(path, false)) {
		if ((st = vf_read_file(path, &text, &len, INDEX_MAX, err)))
			return st;
	} else {
		char single[VF_PATH_MAX] = "";
		if (snap && (st = vf_path_join(single, sizeof single, err, snap,
					       SINGLE_NAME, NULL)))
			return st;
		char hdr[VF_PATH_MAX];
		bool have_single = (snap && exists(single, false)) ||
			(!header_cache_path(c, id, commit, SINGLE_NAME, hdr,
					    sizeof hdr, NULL) &&
			 exists(hdr, false));
		if (!have_single && !c->offline) {
			vf_hub_body b;
			st = vf_hub_get(hub(c), id->repo, commit, INDEX_NAME, 0,
					0, INDEX_MAX, &b, err);
			if (st && !vf_hub_missing_file(&b))
				return st;
			if (!st) {
				c->fetched = true;
				text = b.data;
				len = b.len;
				vf_error werr;
				if (snap && vf_write_file_atomic(path, text, len,
								 &werr))
					warn(c, "not cached: %s", werr.message);
			}
		}
		if (!text) {
			*shards = malloc(sizeof **shards);
			if (!*shards)
				return vf_fail(err, VF_ENOMEM, "out of memory");
			vf_strlcpy((*shards)[0], SINGLE_NAME, VF_ST_NAME_MAX);
			*n = 1;
			return VF_OK;
		}
	}
	char where[400];
	snprintf(where, sizeof where, "%s: %s", id->repo, INDEX_NAME);
	st = vf_st_parse_index(text, len, shards, n, where, err);
	free(text);
	return st;
}

static vf_status hub_headers(ctx *c, const vf_repo_id *id, const char *commit,
			     const char *snap, vf_error *err)
{
	vf_st_name *shards;
	size_t n;
	vf_status st = hub_shards(c, id, commit, snap, &shards, &n, err);
	if (st)
		return st;
	unsigned missing = 0, read = 0;
	for (size_t i = 0; i < n && !st; i++) {
		bool miss;
		vf_error e2;
		st = add_hub_shard(c, id, commit, snap, shards[i], &miss, &e2);
		/* A repo of pytorch_model.bin has no model.safetensors: the
		 * config alone it is. */
		if (st == VF_ENOTFOUND && n == 1 && !strcmp(shards[0], SINGLE_NAME)) {
			st = VF_OK;
			miss = true;
			if (!c->offline)
				warn(c, "%s has no safetensors files; counts are "
				     "the config's", id->repo);
		} else if (st && err) {
			*err = e2;
		}
		missing += miss;
		read += !st && !miss;
	}
	free(shards);
	if (st)
		return st;
	if (missing && read) {
		/* Half the shards would make a count that is wrong. */
		memset(&c->sum, 0, sizeof c->sum);
		read = 0;
	}
	if (missing && c->offline)
		warn(c, "%s: safetensors headers not in the cache (offline); "
		     "counts are the config's", id->repo);
	c->info->n_shards = read;
	return VF_OK;
}

static vf_status from_snapshot(ctx *c, const vf_repo_id *id,
			       const char *commit, const char *snap,
			       vf_model *out, vf_error *err)
{
	char path[VF_PATH_MAX];
	vf_status st = vf_path_join(path, sizeof path, err, snap, "config.json",
				    NULL);
	if (st)
		return st;
	if ((st = hub_headers(c, id, commit, snap, err)))
		return st;
	char *text;
	size_t len;
	if ((st = read_text(path, &text, &len, err)))
		return st;
	vf_strlcpy(c->info->location, path, sizeof c->info->location);
	vf_strlcpy(c->info->revision, commit, sizeof c->info->revision);
	st = combine(c, out, id->repo, id->repo, text, len, err);
	free(text);
	return st;
}

/* Fetches config.json, saves it where transformers would look, and goes
 * on from that snapshot. */
static vf_status from_hub(ctx *c, const vf_repo_id *id, vf_model *out,
			  vf_error *err)
{
	vf_hub_body b;
	vf_status st = vf_hub_get(hub(c), id->repo, id->revision, "config.json",
				  0, 0, CONFIG_MAX, &b, err);
	if (st)
		return st;
	c->fetched = true;
	char commit[64];
	vf_strlcpy(commit, b.commit[0] ? b.commit : id->revision, sizeof commit);
	char folder[600], snap[VF_PATH_MAX], path[VF_PATH_MAX];
	size_t o = (size_t)snprintf(folder, sizeof folder, "models--");
	for (const char *p = id->repo; *p && o + 3 < sizeof folder; p++)
		o += (size_t)snprintf(folder + o, sizeof folder - o, "%s",
				      *p == '/' ? "--" : (char[]){*p, 0});
	char rel[700];
	snprintf(rel, sizeof rel, "%s/snapshots", folder);
	if ((st = vf_path_join(snap, sizeof snap, err, c->hf_cache, rel,
			       commit)) ||
	    (st = vf_path_join(path, sizeof path, err, snap, "config.json",
			       NULL))) {
		vf_hub_body_free(&b);
		return st;
	}
	vf_error werr;
	bool cached = !vf_write_file_atomic(path, b.data, b.len, &werr);
	if (!cached)
		warn(c, "not cached: %s", werr.message);
	if (cached && strcmp(commit, id->revision) != 0) {
		char refp[VF_PATH_MAX];
		snprintf(rel, sizeof rel, "%s/refs", folder);
		if (!vf_path_join(refp, sizeof refp, NULL, c->hf_cache, rel,
				  id->revision))
			vf_write_file_atomic(refp, commit, strlen(commit), NULL);
	}
	if (!cached) {
		/* nothing on disk to read back: headers straight from the Hub */
		st = hub_headers(c, id, commit, NULL, err);
		if (!st)
			st = combine(c, out, id->repo, id->repo, b.data, b.len,
				     err);
	} else {
		st = from_snapshot(c, id, commit, snap, out, err);
	}
	vf_hub_body_free(&b);
	if (!st) {
		char url[1200];
		snprintf(url, sizeof url, "%s/%s/resolve/%s/config.json",
			 hub(c)->endpoint, id->repo, commit);
		vf_strlcpy(c->info->location, url, sizeof c->info->location);
		vf_strlcpy(c->info->revision, commit, sizeof c->info->revision);
	}
	return st;
}

static vf_status resolve_id(ctx *c, const char *spec, vf_model *out,
			    vf_error *err)
{
	vf_repo_id id;
	vf_status st = vf_repo_id_parse(spec, &id, err);
	if (st)
		return st;
	char snap[VF_PATH_MAX], commit[128], cfg[VF_PATH_MAX];
	vf_error e2;
	if (!vf_hf_snapshot(c->hf_cache, &id, snap, sizeof snap, commit,
			    sizeof commit, &e2) &&
	    !vf_path_join(cfg, sizeof cfg, NULL, snap, "config.json", NULL) &&
	    exists(cfg, false)) {
		st = from_snapshot(c, &id, commit, snap, out, err);
		if (!st)
			c->info->kind = c->fetched ? VF_SOURCE_HUB
				: c->headers_from_vf_cache ? VF_SOURCE_CACHE
							   : VF_SOURCE_HF_CACHE;
		return st;
	}
	if (c->offline)
		return vf_fail(err, VF_ENOTFOUND,
			       "unknown model \"%s\": not built in (see `vramfit "
			       "models`) and not in the Hugging Face cache %s, "
			       "and offline (--offline or HF_HUB_OFFLINE=1)",
			       spec, c->hf_cache);
	st = from_hub(c, &id, out, err);
	if (!st)
		c->info->kind = VF_SOURCE_HUB;
	return st;
}

/* Looks like a path the user meant: then "no such file" is the error. */
static bool path_like(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = at ? (size_t)(at - s) : strlen(s);
	const char *slash = memchr(s, '/', n);
	return s[0] == '/' || s[0] == '.' || s[0] == '~' ||
	       (n > 5 && strncmp(s + n - 5, ".json", 5) == 0) ||
	       (slash && memchr(slash + 1, '/', n - (size_t)(slash + 1 - s)));
}

vf_status vf_model_resolve(const char *spec, const vf_source_opts *opts,
			   vf_model *out, vf_source_info *info, vf_error *err)
{
	vf_source_info local;
	ctx c;
	memset(&c, 0, sizeof c);
	c.opts = opts;
	c.info = info ? info : &local;
	memset(c.info, 0, sizeof *c.info);
	if (!spec || !*spec)
		return vf_fail(err, VF_EINVAL, "no model given");
	c.offline = (opts && opts->offline) || vf_hf_offline_env();

	struct stat sb;
	vf_status st;
	if (stat(spec, &sb) == 0) {
		vf_strlcpy(c.info->location, spec, sizeof c.info->location);
		if (S_ISDIR(sb.st_mode)) {
			c.info->kind = VF_SOURCE_FOLDER;
			return resolve_folder(&c, spec, out, err);
		}
		c.info->kind = VF_SOURCE_CONFIG_FILE;
		return vf_model_from_config_file(out, spec, err);
	}
	if (path_like(spec))
		return vf_fail(err, VF_ENOTFOUND, "%s: no such file or folder",
			       spec);
	vf_error berr;
	if (!strchr(spec, '@')) {
		st = vf_builtin_model(out, spec, &berr);
		if (st != VF_ENOTFOUND || !strchr(spec, '/')) {
			if (st && err)
				*err = berr;
			if (!st) {
				c.info->kind = VF_SOURCE_BUILTIN;
				vf_strlcpy(c.info->location, out->name,
					   sizeof c.info->location);
			}
			return st;
		}
	}
	if (opts && opts->hf_cache)
		vf_strlcpy(c.hf_cache, opts->hf_cache, sizeof c.hf_cache);
	else if ((st = vf_hf_hub_cache(c.hf_cache, sizeof c.hf_cache, err)))
		return st;
	if (opts && opts->cache_dir)
		vf_strlcpy(c.vf_cache, opts->cache_dir, sizeof c.vf_cache);
	else if ((st = vf_vramfit_cache(c.vf_cache, sizeof c.vf_cache, err)))
		return st;
	st = resolve_id(&c, spec, out, err);
	if (st && err && c.hub_ready)
		vf_scrub(err->message, c.hub.token);
	for (unsigned i = 0; c.hub_ready && i < c.info->n_warnings; i++)
		vf_scrub(c.info->warnings[i], c.hub.token);
	memset(&c.hub, 0, sizeof c.hub);
	return st;
}
