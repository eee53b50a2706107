/*
 * test_shared_lib.c - the shared library exports the public interface:
 * this program links only libvramfit.so (not the static archive the other
 * tests use) and calls a function of each part of the header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vramfit.h"

static void public_api_links(void **state)
{
	(void)state;
	vf_model m;
	vf_error err;
	assert_int_equal(vf_builtin_model(&m, "meta-llama/Llama-2-7b-hf", &err), VF_OK);
	assert_int_equal(m.params.total, 6738415616ull);

	vf_run r;
	vf_run_init(&r);
	r.method = VF_METHOD_QLORA;
	vf_estimate e;
	assert_int_equal(vf_estimate_run(&m, &r, &e, &err), VF_OK);
	assert_true(e.peak_process > 0);

	vf_gpu_spec g;
	assert_int_equal(vf_gpu_spec_find("rtx3090", &g, &err), VF_OK);
	vf_check *c = malloc(sizeof *c);
	assert_non_null(c);
	assert_int_equal(vf_check_run(&m, &r, g.memory_bytes, &g, c, &err), VF_OK);
	free(c);

	vf_source_opts o;
	vf_source_info info;
	vf_source_opts_init(&o);
	o.offline = true;
	assert_int_equal(vf_model_resolve("llama-3.2-1b", &o, &m, &info, &err), VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_BUILTIN);

	uint32_t v;
	assert_true(vf_version_parse("0.43.2", &v));
	assert_non_null(vf_version());
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(public_api_links)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
