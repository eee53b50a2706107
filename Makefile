# Thin wrapper around CMake: `make` builds build/vramfit, `make test` runs
# every test, `make asan` runs them under AddressSanitizer + UBSan.
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all test asan bench install clean validate fuzz

all:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan:
	cmake -S . -B build-asan -DVF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir build-asan --output-on-failure -j $(JOBS)

# libFuzzer on the parsers of network input (fuzz/targets.h), each for
# FUZZ_SECONDS. New inputs go to build-fuzz/corpus/; crashers to
# fuzz/corpus/<target>/crash-*, where test_fuzz_corpus keeps them as
# regression tests once fixed.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= st_header st_index config spec train_config run_json
fuzz:
	CC=clang cmake -S . -B build-fuzz -DVF_FUZZ=ON -DVF_BUILD_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS:%=fuzz_%)
	for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus/$$t && \
		build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=fuzz/corpus/$$t/crash- \
			build-fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

bench: all
	$(BUILD)/vf_bench
	$(BUILD)/vf_bench_plan

validate: all
	$(BUILD)/vramfit validate

install: all
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
