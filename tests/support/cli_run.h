/*
 * cli_run.h - run the built CLI ($VRAMFIT) from a test and capture what it
 * printed. Shared by the CLI tests so each asserts behaviour, not plumbing.
 */
#ifndef VF_TEST_CLI_RUN_H
#define VF_TEST_CLI_RUN_H

typedef struct cli_result {
	int status;      /* exit status; -1 if it did not exit normally */
	char *out;       /* stdout, NUL-terminated, malloc'd */
	char *err;       /* stderr, NUL-terminated, malloc'd */
} cli_result;

/* Runs $VRAMFIT with the NULL-terminated args, NO_COLOR set. */
cli_result cli_run(const char *const *args);
void cli_result_free(cli_result *r);

/* Lines in s (a last line without '\n' counts). */
unsigned cli_count_lines(const char *s);

/* Writes text to a new file in a per-process temporary directory and
 * returns its path (static storage, valid until the next call). */
const char *cli_temp_file(const char *name, const char *text);

#endif
