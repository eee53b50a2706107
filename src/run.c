/* run.c - run descriptions (being written). */
#include "internal.h"
