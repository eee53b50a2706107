/*
 * hfcache.c - the Hugging Face cache as huggingface_hub lays it out
 * (huggingface_hub docs, "Understand caching"):
 *
 *   <hub cache>/models--org--name/refs/<revision>      holds a commit hash
 *   <hub cache>/models--org--name/snapshots/<commit>/config.json ...
 *
 * so that what vramfit fetched is found by transformers and the reverse.
 * The environment variables and their defaults are huggingface_hub's
 * (constants.py: HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_TOKEN_PATH,
 * HF_HUB_OFFLINE).
 */
#include "hfcache.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

vf_status vf_path_join(char *out, size_t size, vf_error *err, const char *a,
		       const char *b, const char *c)
{
	int n = snprintf(out, size, "%s%s%s%s%s", a, b ? "/" : "", b ? b : "",
			 c ? "/" : "", c ? c : "");
	if (n < 0 || (size_t)n >= size)
		return vf_fail(err, VF_EINVAL, "path too long: %.64s...", a);
	return VF_OK;
}

static bool id_char(int c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-';
}

static bool id_part_ok(const char *s, size_t n, bool slash_ok)
{
	if (n == 0 || s[0] == '.' || s[0] == '-' || s[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!id_char((unsigned char)s[i]) && !(slash_ok && s[i] == '/'))
			return false;
		if (i + 1 < n && s[i] == '.' && s[i + 1] == '.')
			return false;
	}
	return s[n - 1] != '/';
}

vf_status vf_repo_id_parse(const char *spec, vf_repo_id *out, vf_error *err)
{
	memset(out, 0, sizeof *out);
	const char *at = strchr(spec, '@');
	size_t rn = at ? (size_t)(at - spec) : strlen(spec);
	const char *slash = memchr(spec, '/', rn);
	if (!slash || memchr(slash + 1, '/', rn - (size_t)(slash + 1 - spec)) ||
	    !id_part_ok(spec, (size_t)(slash - spec), false) ||
	    !id_part_ok(slash + 1, rn - (size_t)(slash + 1 - spec), false) ||
	    rn >= sizeof out->repo)
		return vf_fail(err, VF_EINVAL,
			       "\"%.200s\" is not a Hub id (org/name[@revision])",
			       spec);
	memcpy(out->repo, spec, rn);
	out->repo[rn] = '\0';
	if (at) {
		size_t vn = strlen(at + 1);
		if (!id_part_ok(at + 1, vn, true) || vn >= sizeof out->revision)
			return vf_fail(err, VF_EINVAL,
				       "\"%.200s\": bad revision after '@'", spec);
		memcpy(out->revision, at + 1, vn + 1);
		out->revision_given = true;
	} else {
		vf_strlcpy(out->revision, "main", sizeof out->revision);
	}
	return VF_OK;
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
static vf_status hf_home(char *out, size_t size, vf_error *err)
{
	const char *v;
	if ((v = env("HF_HOME")))
		return vf_path_join(out, size, err, v, NULL, NULL);
	if ((v = env("XDG_CACHE_HOME")))
		return vf_path_join(out, size, err, v, "huggingface", NULL);
	if ((v = env("HOME")))
		return vf_path_join(out, size, err, v, ".cache/huggingface",
				    NULL);
	return vf_fail(err, VF_ENOTFOUND,
		       "no Hugging Face cache: HF_HOME and HOME are unset");
}

vf_status vf_hf_hub_cache(char *out, size_t size, vf_error *err)
{
	const char *v;
	if ((v = env("HF_HUB_CACHE")) || (v = env("HUGGINGFACE_HUB_CACHE")))
		return vf_path_join(out, size, err, v, NULL, NULL);
	char home[VF_PATH_MAX];
	vf_status st = hf_home(home, sizeof home, err);
	return st ? st : vf_path_join(out, size, err, home, "hub", NULL);
}

vf_status vf_vramfit_cache(char *out, size_t size, vf_error *err)
{
	const char *v;
	if ((v = env("XDG_CACHE_HOME")))
		return vf_path_join(out, size, err, v, "vramfit", NULL);
	if ((v = env("HOME")))
		return vf_path_join(out, size, err, v, ".cache/vramfit", NULL);
	return vf_fail(err, VF_ENOTFOUND,
		       "no cache folder: XDG_CACHE_HOME and HOME are unset");
}

/* Reads a short file, whitespace trimmed; false if absent or empty. */
static bool read_small(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(out, 1, size - 1, f);
	fclose(f);
	out[n] = '\0';
	char *s = out;
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t m = strlen(s);
	while (m && isspace((unsigned char)s[m - 1]))
		m--;
	memmove(out, s, m);
	out[m] = '\0';
	return m > 0;
}

bool vf_hf_token(char *out, size_t size)
{
	out[0] = '\0';
	const char *v;
	if ((v = env("HF_TOKEN")) || (v = env("HUGGING_FACE_HUB_TOKEN"))) {
		vf_strlcpy(out, v, size);
		return true;
	}
	char path[VF_PATH_MAX], home[VF_PATH_MAX];
	if ((v = env("HF_TOKEN_PATH")))
		vf_strlcpy(path, v, sizeof path);
	else if (hf_home(home, sizeof home, NULL) ||
		 vf_path_join(path, sizeof path, NULL, home, "token", NULL))
		return false;
	if (!read_small(path, out, size)) {
		out[0] = '\0';
		return false;
	}
	return true;
}

bool vf_hf_offline_env(void)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	const char *v = env("HF_HUB_OFFLINE");
	if (!v)
		return false;
	for (size_t i = 0; i < VF_ARRAY_LEN(yes); i++)
		if (vf_streq_ci(v, yes[i]))
			return true;
	return false;
}

bool vf_is_commit(const char *rev)
{
	size_t n = 0;
	for (; rev[n]; n++)
		if (!isxdigit((unsigned char)rev[n]) ||
		    isupper((unsigned char)rev[n]))
			return false;
	return n == 40;
}

static void repo_folder(const vf_repo_id *id, char *out, size_t size)
{
	size_t o = (size_t)snprintf(out, size, "models--");
	for (const char *p = id->repo; *p && o + 3 < size; p++) {
		if (*p == '/') {
			out[o++] = '-';
			out[o++] = '-';
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static bool is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

vf_status vf_hf_snapshot(const char *cache, const vf_repo_id *id, char *dir,
			 size_t size, char *commit, size_t csize, vf_error *err)
{
	char folder[512], path[VF_PATH_MAX], ref[128];
	vf_status st;
	repo_folder(id, folder, sizeof folder);
	vf_strlcpy(commit, id->revision, csize);
	if (!vf_is_commit(id->revision)) {
		char refs[600];
		snprintf(refs, sizeof refs, "%s/refs", folder);
		if ((st = vf_path_join(path, sizeof path, err, cache, refs,
				       id->revision)))
			return st;
		if (read_small(path, ref, sizeof ref) && vf_is_commit(ref))
			vf_strlcpy(commit, ref, csize);
	}
	char snaps[600];
	snprintf(snaps, sizeof snaps, "%s/snapshots", folder);
	if ((st = vf_path_join(dir, size, err, cache, snaps, commit)))
		return st;
	if (!is_dir(dir))
		return vf_fail(err, VF_ENOTFOUND, "%s@%s is not in the cache %s",
			       id->repo, id->revision, cache);
	return VF_OK;
}

static vf_status mkdirs(char *path, vf_error *err)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0777);
		int e = errno;
		*p = '/';
		if (rc != 0 && e != EEXIST)
			return vf_fail(err, VF_EIO, "cannot create %s: %s", path,
				       strerror(e));
	}
	return VF_OK;
}

vf_status vf_write_file_atomic(const char *path, const void *data, size_t len,
			       vf_error *err)
{
	char tmp[VF_PATH_MAX + 32];
	vf_status st;
	if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >=
	    (int)sizeof tmp)
		return vf_fail(err, VF_EINVAL, "path too long: %.64s...", path);
	if ((st = mkdirs(tmp, err)))
		return st;
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return vf_fail(err, VF_EIO, "cannot write %s: %s", tmp,
			       strerror(errno));
	bool ok = fwrite(data, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		return vf_fail(err, VF_EIO, "cannot write %s: %s", path,
			       strerror(e));
	}
	return VF_OK;
}
