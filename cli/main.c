/* main.c - `vramfit COMMAND [ARGS]`: dispatch to one command. */
#include "cli.h"

#include <string.h>

static const vf_command commands[] = {
	{"check", "read a training config: does it fit, and what would",
	 cmd_check},
	{"estimate", "predict the per-GPU memory of one training run",
	 cmd_estimate},
	{"gpus", "list the GPUs, their memory and who holds it", cmd_gpus},
	{"models", "list the built-in models with exact parameter counts",
	 cmd_models},
	{"monitor", "watch GPU memory, temperature and throttling live",
	 cmd_monitor},
	{"plan", "find the fastest configuration that fits, write its config",
	 cmd_plan},
	{"run", "run a training command and measure its peak GPU memory",
	 cmd_run},
	{"sweep", "memory, fit and speed as one knob varies", cmd_sweep},
	{"validate", "compare predictions with measured runs", cmd_validate},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vramfit COMMAND [OPTIONS]\n\n"
		   "Will this training run fit on my GPU, and what is the "
		   "fastest way to make it fit?\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n`vramfit COMMAND --help` describes each command; "
		   "vramfit(1) has the details.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("vramfit %s\n", vf_version());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, cmd) == 0)
			return commands[i].run(argc - 1, argv + 1);
	return cli_usage_error("unknown command \"%s\" (see `vramfit --help`)",
			       cmd);
}
