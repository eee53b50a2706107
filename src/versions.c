/*
 * versions.c - package names and version strings as people and pip write
 * them. Which behaviour each version selects is data in profile.c.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const package_names[VF_PKG_COUNT] = {
	[VF_PKG_TORCH] = "torch",
	[VF_PKG_TRANSFORMERS] = "transformers",
	[VF_PKG_PEFT] = "peft",
	[VF_PKG_TRL] = "trl",
	[VF_PKG_BITSANDBYTES] = "bitsandbytes",
};

const char *vf_package_name(vf_package v)
{
	return (unsigned)v < VF_PKG_COUNT ? package_names[v] : "unknown";
}

bool vf_package_from_name(const char *s, vf_package *out)
{
	for (unsigned i = 0; s && i < VF_PKG_COUNT; i++)
		if (vf_streq_ci(package_names[i], s)) {
			*out = (vf_package)i;
			return true;
		}
	return false;
}

/* One dotted part: 1 to 3 digits (no version part reaches 1000). */
static const char *part(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;
	while (isdigit((unsigned char)*p)) {
		if (++n > 3)
			return NULL;
		v = v * 10 + (uint32_t)(*p++ - '0');
	}
	if (n == 0)
		return NULL;
	*out = v;
	return p;
}

bool vf_version_parse(const char *s, uint32_t *out)
{
	if (!s)
		return false;
	/* pip specifiers and tags: ">=0.43.3", "==4.38", "~=1.2", "v0.22" */
	while (*s == ' ' || *s == '>' || *s == '=' || *s == '~' || *s == '^')
		s++;
	if (*s == 'v' || *s == 'V')
		s++;
	uint32_t v[3] = {0, 0, 0};
	const char *p = part(s, &v[0]);
	/* major.minor at least: "8641822" is a commit, not version
	 * 8641822, and "4.x" names no release */
	if (!p || *p != '.' || !isdigit((unsigned char)p[1]))
		return false;
	for (int i = 1; i < 3 && p && *p == '.' && isdigit((unsigned char)p[1]);
	     i++)
		p = part(p + 1, &v[i]);
	if (!p)
		return false;
	/* what may follow: ".post2", ".dev0", "+cu121", "rc1", "a1", end */
	if (*p && *p != '.' && *p != '+' && *p != '-' && !isalpha((unsigned char)*p))
		return false;
	*out = VF_VERSION(v[0], v[1], v[2]);
	return *out != 0;
}

size_t vf_version_format(uint32_t v, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%u.%u.%u", v / 1000000u, v / 1000u % 1000u,
			 v % 1000u);
	return n < 0 ? 0 : (size_t)n;
}

vf_status vf_versions_parse(const char *list, uint32_t versions[VF_PKG_COUNT],
			    vf_error *err)
{
	char buf[256];
	if (!list || !*list)
		return vf_fail(err, VF_EINVAL, "empty list (want PKG=VERSION,...)");
	if (strlen(list) >= sizeof buf)
		return vf_fail(err, VF_EINVAL, "list too long");
	vf_strlcpy(buf, list, sizeof buf);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		vf_package pkg;
		uint32_t v;
		if (!eq)
			return vf_fail(err, VF_EINVAL,
				       "\"%s\": want PKG=VERSION, e.g. "
				       "transformers=4.38.2", item);
		*eq = '\0';
		if (!vf_package_from_name(item, &pkg))
			return vf_fail(err, VF_EINVAL,
				       "unknown package \"%s\" (known: torch, "
				       "transformers, peft, trl, bitsandbytes)",
				       item);
		if (!vf_version_parse(eq + 1, &v))
			return vf_fail(err, VF_EINVAL,
				       "%s: \"%s\" is not a version like 4.38.2",
				       item, eq + 1);
		versions[pkg] = v;
	}
	return VF_OK;
}
