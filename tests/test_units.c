/*
 * test_units.c - memory sizes as people write them (vf_parse_size) and as
 * vramfit prints them (vf_format_bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vramfit.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

static void sizes_people_write(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{"24", 24 * GiB},           /* a "24 GB" card */
		{"20.5", 20 * GiB + 512 * MiB},
		{"6", 6 * GiB},
		{"16gb", 16 * GiB},
		{"16GB", 16 * GiB},
		{"16GiB", 16 * GiB},
		{"16 GiB", 16 * GiB},
		{"16376MiB", 16376 * MiB},  /* nvidia-smi of an RTX 4090 Laptop */
		{"16376mb", 16376 * MiB},
		{"512KiB", 512 * KiB},
		{"1000000000b", 1000000000ull},
		{"80GiB", 80 * GiB},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t b = 0;
		vf_error err;
		if (vf_parse_size(ok[i].text, &b, &err) != VF_OK)
			fail_msg("\"%s\": %s", ok[i].text, err.message);
		if (b != ok[i].bytes)
			fail_msg("\"%s\" gave %llu, want %llu", ok[i].text,
				 (unsigned long long)b,
				 (unsigned long long)ok[i].bytes);
	}
}

static void sizes_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "0", "-6", "abc", "nan", "inf", "1e400", "16 parsecs",
		"16gbx", "99999999999999999999", "0.0000000001b", "--6", "6..5",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t b = 12345;
		vf_error err;
		if (vf_parse_size(bad[i], &b, &err) == VF_OK)
			fail_msg("\"%s\" was accepted as %llu bytes", bad[i],
				 (unsigned long long)b);
		assert_true(err.message[0] != '\0');
	}
}

static void formatting(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(vf_format_bytes(16 * GiB, buf, sizeof buf), "16.00 GiB");
	assert_string_equal(vf_format_bytes(512 * MiB, buf, sizeof buf), "512 MiB");
	assert_string_equal(vf_format_bytes(1536 * MiB, buf, sizeof buf), "1.50 GiB");
	/* never a wrapped or negative number, even at the top of the range */
	vf_format_bytes(UINT64_MAX, buf, sizeof buf);
	assert_null(strchr(buf, '-'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_people_write),
		cmocka_unit_test(sizes_refused),
		cmocka_unit_test(formatting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
