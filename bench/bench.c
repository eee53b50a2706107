/* bench.c - estimates per second on one core (being written). */
#include "vramfit.h"
#include <stdio.h>
int main(void) { printf("vramfit %s\n", vf_version()); return 0; }
