/* cli_run.c - see cli_run.h. */
#define _XOPEN_SOURCE 700
#include "cli_run.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

/* The directory goes when the test exits, files and all. */
static void remove_temp_dir(void)
{
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *temp_dir(void)
{
	if (!dir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/vf-test-XXXXXX",
			 base && *base ? base : "/tmp");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_temp_dir);
	}
	return dir;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (f) {
		for (;;) {
			if (len + 4096 + 1 > cap) {
				cap = cap ? cap * 2 : 8192;
				char *p = realloc(buf, cap);
				if (!p)
					abort();
				buf = p;
			}
			size_t n = fread(buf + len, 1, 4096, f);
			len += n;
			if (n == 0)
				break;
		}
		fclose(f);
	}
	if (!buf && !(buf = malloc(1)))
		abort();
	buf[len] = '\0';
	return buf;
}

cli_result cli_run(const char *const *args)
{
	cli_result r = {-1, NULL, NULL};
	const char *exe = getenv("VRAMFIT");
	char out[300], err[300];
	snprintf(out, sizeof out, "%s/stdout", temp_dir());
	snprintf(err, sizeof err, "%s/stderr", temp_dir());
	pid_t pid = exe ? fork() : -1;
	if (pid == 0) {
		char *argv[64];
		int n = 0;
		argv[n++] = (char *)exe;
		while (n < 63 && args[n - 1]) {
			argv[n] = (char *)args[n - 1];
			n++;
		}
		argv[n] = NULL;
		setenv("NO_COLOR", "1", 1);
		if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
			_exit(126);
		execv(exe, argv);
		_exit(127);
	}
	int ws;
	if (pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws))
		r.status = WEXITSTATUS(ws);
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

void cli_result_free(cli_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

unsigned cli_count_lines(const char *s)
{
	unsigned n = 0;
	for (const char *p = s; *p; p++)
		if (*p == '\n' || p[1] == '\0')
			n++;
	return n;
}

const char *cli_temp_file(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", temp_dir(), name);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return path;
}
