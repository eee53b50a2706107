/* model_source_names.c - names of the model-source enums and option
 * defaults (docs: include/vramfit.h "Model sources"). */
#include "internal.h"

#include <string.h>

static const char *const kind_names[VF_SOURCE_KIND_COUNT] = {
	[VF_SOURCE_BUILTIN] = "builtin",     [VF_SOURCE_CONFIG_FILE] = "config",
	[VF_SOURCE_FOLDER] = "folder",       [VF_SOURCE_HF_CACHE] = "hf-cache",
	[VF_SOURCE_CACHE] = "vramfit-cache", [VF_SOURCE_HUB] = "hub",
};

static const char *const prequant_names[VF_PREQUANT_COUNT] = {
	[VF_PREQUANT_NONE] = "none",         [VF_PREQUANT_BNB_4BIT] = "bnb-4bit",
	[VF_PREQUANT_BNB_8BIT] = "bnb-8bit", [VF_PREQUANT_GPTQ] = "gptq",
	[VF_PREQUANT_AWQ] = "awq",           [VF_PREQUANT_FP8] = "fp8",
	[VF_PREQUANT_OTHER] = "other",
};

const char *vf_source_kind_name(vf_source_kind kind)
{
	return (unsigned)kind < VF_SOURCE_KIND_COUNT ? kind_names[kind] : "?";
}

const char *vf_prequant_name(vf_prequant q)
{
	return (unsigned)q < VF_PREQUANT_COUNT ? prequant_names[q] : "?";
}

void vf_source_opts_init(vf_source_opts *opts)
{
	memset(opts, 0, sizeof *opts);
}
