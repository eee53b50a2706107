/* stubs_tmp.c - placeholders until monitor and run land. */
#include "cli.h"
int cmd_monitor(int argc, char **argv){(void)argc;(void)argv;return 0;}
int cmd_run(int argc, char **argv){(void)argc;(void)argv;return 0;}
