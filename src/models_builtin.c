/*
 * models_builtin.c - the built-in models: real config.json files embedded at
 * build time (data/models, provenance in data/models/PROVENANCE.md), looked
 * up by Hub id, alias (data/models/aliases.tsv) or short name.
 */
#include "internal.h"
#include "models_data.h"

#include <string.h>
#include <strings.h>

size_t vf_builtin_model_count(void) { return vf_builtin_models_len; }

const char *vf_builtin_model_name(size_t i)
{
	return i < vf_builtin_models_len ? vf_builtin_models[i].id : NULL;
}

/* "meta-llama/Llama-2-7b-hf" -> "Llama-2-7b-hf" */
static const char *short_name(const char *id)
{
	const char *slash = strrchr(id, '/');
	return slash ? slash + 1 : id;
}

/* Short names match without case and without a trailing "-hf". */
static bool short_matches(const char *id, const char *want)
{
	const char *s = short_name(id);
	if (vf_streq_ci(s, want))
		return true;
	size_t n = strlen(s);
	if (n > 3 && vf_streq_ci(s + n - 3, "-hf") && strlen(want) == n - 3)
		return strncasecmp(s, want, n - 3) == 0;
	return false;
}

static const vf_builtin_entry *find_entry(const char *name)
{
	for (size_t i = 0; i < vf_builtin_models_len; i++)
		if (strcmp(vf_builtin_models[i].id, name) == 0)
			return &vf_builtin_models[i];
	for (size_t i = 0; i < vf_builtin_aliases_len; i++)
		if (vf_streq_ci(vf_builtin_aliases[i].alias, name))
			return find_entry(vf_builtin_aliases[i].target);
	for (size_t i = 0; i < vf_builtin_models_len; i++)
		if (vf_streq_ci(vf_builtin_models[i].id, name) ||
		    (!strchr(name, '/') &&
		     short_matches(vf_builtin_models[i].id, name)))
			return &vf_builtin_models[i];
	return NULL;
}

vf_status vf_builtin_model(vf_model *model, const char *name, vf_error *err)
{
	const vf_builtin_entry *e = find_entry(name);
	if (!e)
		return vf_fail(err, VF_ENOTFOUND,
			       "unknown model \"%s\" (see `vramfit models`, or "
			       "give a path to a config.json)",
			       name);
	return vf_model_from_config_json(model, e->id, (const char *)e->json,
					 e->len, err);
}
