/*
 * proctree.c - a process and its descendants, from /proc/PID/stat. Used
 * by `vramfit run` to attribute GPU memory to a training command that
 * forks workers (torchrun, DataLoader workers, accelerate launch).
 *
 * PIDs are those of our PID namespace; NVML reports host PIDs, so inside a
 * container without the host PID namespace the two do not match.
 */
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pp {
	int32_t pid, ppid;
};

/* The parent of pid from /proc/PID/stat; the comm field may hold spaces
 * and parentheses, so parse after the last ')'. */
static int32_t parent_of(const char *pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	int ppid;
	char state;
	if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	return ppid;
}

size_t vf_process_tree(int32_t root, int32_t *pids, size_t max)
{
	size_t found = 0;
	if (max > 0)
		pids[0] = root;
	found = 1;
	DIR *d = opendir("/proc");
	if (!d)
		return found;
	struct pp *all = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		int32_t ppid = parent_of(de->d_name);
		if (ppid < 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct pp *p = realloc(all, nc * sizeof *p);
			if (!p)
				break;
			all = p;
			cap = nc;
		}
		all[n].pid = (int32_t)atoi(de->d_name);
		all[n].ppid = ppid;
		n++;
	}
	closedir(d);
	/* Breadth first: children of every PID found so far. A PID reused
	 * while we scan can at worst add an unrelated process once. */
	int32_t *queue = malloc((n + 1) * sizeof *queue);
	if (queue) {
		size_t head = 0, tail = 0;
		queue[tail++] = root;
		while (head < tail) {
			int32_t cur = queue[head++];
			for (size_t i = 0; i < n; i++) {
				if (all[i].ppid != cur || all[i].pid == root)
					continue;
				all[i].ppid = -1; /* visit once */
				if (tail <= n)
					queue[tail++] = all[i].pid;
				if (found < max)
					pids[found] = all[i].pid;
				found++;
			}
		}
		free(queue);
	}
	free(all);
	return found;
}
