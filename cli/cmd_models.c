/* cmd_models.c - `vramfit models`: the built-in models. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static void help(void)
{
	printf("usage: vramfit models [--json]\n\n"
	       "Lists the built-in models (real config.json files, see\n"
	       "data/models/PROVENANCE.md) with their exact parameter counts.\n"
	       "Any of these names, a short form such as llama-2-7b, or a path\n"
	       "to a config.json is accepted by --model.\n\n"
	       "  --json   machine-readable output\n");
}

int cmd_models(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, 0, 'j'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	bool json = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			help();
			return EXIT_OK;
		default:
			return cli_usage_error("models: unknown option \"%s\"",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("models: unexpected argument \"%s\"",
				       argv[optind]);

	if (json)
		printf("{\"models\":[");
	else
		printf("%-52s %-12s %18s\n", "MODEL", "TYPE", "PARAMETERS");
	size_t n = vf_builtin_model_count(), shown = 0;
	for (size_t i = 0; i < n; i++) {
		vf_model m;
		vf_error err;
		if (vf_builtin_model(&m, vf_builtin_model_name(i), &err)) {
			fprintf(stderr, "vramfit: built-in %s: %s\n",
				vf_builtin_model_name(i), err.message);
			continue;
		}
		char digits[32];
		if (json)
			printf("%s{\"name\":\"%s\",\"model_type\":\"%s\","
			       "\"parameters\":%llu}",
			       shown ? "," : "", m.name, m.arch.model_type,
			       (unsigned long long)m.params.total);
		else
			printf("%-52s %-12s %18s\n", m.name, m.arch.model_type,
			       cli_group_digits(m.params.total, digits,
						sizeof digits));
		shown++;
	}
	if (json)
		printf("]}\n");
	return EXIT_OK;
}
