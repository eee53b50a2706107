/*
 * targets.h - the fuzz targets: the parsers that take input from the
 * network or from users' files. Each takes any bytes and must neither
 * crash nor leak; fuzz/fuzz_main.c wraps one for libFuzzer and
 * tests/test_fuzz_corpus.c runs the kept corpus through all of them.
 */
#ifndef VF_FUZZ_TARGETS_H
#define VF_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

typedef int (*vf_fuzz_fn)(const uint8_t *data, size_t size);

typedef struct vf_fuzz_target {
	const char *name;         /* fuzz/corpus/<name>/ */
	vf_fuzz_fn fn;
} vf_fuzz_target;

int vf_fuzz_st_header(const uint8_t *data, size_t size);
int vf_fuzz_st_index(const uint8_t *data, size_t size);
int vf_fuzz_config(const uint8_t *data, size_t size);
int vf_fuzz_spec(const uint8_t *data, size_t size);
int vf_fuzz_train_config(const uint8_t *data, size_t size);
int vf_fuzz_run_json(const uint8_t *data, size_t size);

extern const vf_fuzz_target vf_fuzz_targets[];
extern const size_t vf_fuzz_target_count;

#endif
