/* cmd_estimate.c - `vramfit estimate` (being written). */
#include "cli.h"

int cmd_estimate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error("estimate: not yet available");
}
