/* fuzz_main.c - one fuzz target for libFuzzer, chosen at compile time with
 * -DVF_FUZZ_FN=vf_fuzz_<name> (CMake option VF_FUZZ, `make fuzz`). */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return VF_FUZZ_FN(data, size);
}
