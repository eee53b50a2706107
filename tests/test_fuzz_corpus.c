/*
 * test_fuzz_corpus.c - every file of fuzz/corpus/<target>/ through its
 * parser, in the ordinary (and the sanitizer) build: the seeds and any
 * input a fuzzer once crashed on stay regression tests without libFuzzer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"

static unsigned run_dir(const vf_fuzz_target *t, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("no corpus folder %s", dir);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		uint8_t *buf = malloc(1 << 20);
		assert_non_null(buf);
		size_t len = fread(buf, 1, 1 << 20, f);
		fclose(f);
		/* an exact-size copy, so ASan sees reads past the input */
		uint8_t *exact = malloc(len ? len : 1);
		assert_non_null(exact);
		memcpy(exact, buf, len);
		free(buf);
		t->fn(exact, len);
		free(exact);
		n++;
	}
	closedir(d);
	return n;
}

static void corpus(void **state)
{
	(void)state;
	const char *src = getenv("VF_SOURCE_DIR");
	assert_non_null(src);
	for (size_t i = 0; i < vf_fuzz_target_count; i++) {
		char dir[600];
		snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", src,
			 vf_fuzz_targets[i].name);
		if (run_dir(&vf_fuzz_targets[i], dir) < 5)
			fail_msg("%s: fewer than 5 corpus files", dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(corpus)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
