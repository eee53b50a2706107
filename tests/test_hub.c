/*
 * test_hub.c - Hub ids over HTTP against tests/hub_server.py on 127.0.0.1
 * (HF_ENDPOINT): Range requests for the headers only, a sharded model,
 * gated repos with and without a token, 404s for repo and revision, a 5xx
 * that recovers and one that does not, a stalled server, broken headers,
 * the cache layout written, offline reuse, and a token that never shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "vramfit.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The server's fixtures (tests/hub_server.py); counts as in
 * test_model_source.c: the tiny Llama has 6736 parameters. */
#define COMMIT "0123456789abcdef0123456789abcdef01234567"
#define COMMIT_V1 "89abcdef0123456789abcdef0123456789abcdef"
#define TINY_PARAMS 6736ull

static char base[256], endpoint[64];
static pid_t server;
static unsigned dirs;

static int start_server(void **state)
{
	(void)state;
	const char *src = getenv("VF_SOURCE_DIR");
	const char *tmp = getenv("TMPDIR");
	snprintf(base, sizeof base, "%s/vf-hub-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!src || !mkdtemp(base))
		return -1;
	char script[512], portfile[300];
	snprintf(script, sizeof script, "%s/tests/hub_server.py", src);
	snprintf(portfile, sizeof portfile, "%s/port", base);
	server = fork();
	if (server == 0) {
		execlp("python3", "python3", script, portfile, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(portfile, "r");
		int port = 0;
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port > 0) {
			snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d",
				 port);
			setenv("HF_ENDPOINT", endpoint, 1);
			unsetenv("HF_HUB_OFFLINE");
			unsetenv("HF_TOKEN");
			unsetenv("VRAMFIT_HTTP_RETRIES");
			unsetenv("VRAMFIT_HTTP_TIMEOUT");
			return 0;
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int stop_server(void **state)
{
	(void)state;
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* Fresh, empty caches for one test, also set in the environment for the
 * CLI runs. */
typedef struct caches {
	char hf[400], vf[400];
	char vramfit[420];        /* vf/vramfit, what opts.cache_dir names */
} caches;

static caches fresh(void)
{
	caches c;
	unsigned n = dirs++;
	snprintf(c.hf, sizeof c.hf, "%s/%u/hf", base, n);
	snprintf(c.vf, sizeof c.vf, "%s/%u/xdg", base, n);
	char top[400];
	snprintf(top, sizeof top, "%s/%u", base, n);
	mkdir(top, 0777);
	setenv("HF_HUB_CACHE", c.hf, 1);
	char xdg[400];
	snprintf(xdg, sizeof xdg, "%s/%u/xdg", base, n);
	setenv("XDG_CACHE_HOME", xdg, 1);
	return c;
}

/* Options naming the caches of `c`, which must outlive them. */
static vf_source_opts opts_for(caches *c)
{
	vf_source_opts o;
	vf_source_opts_init(&o);
	o.hf_cache = c->hf;
	snprintf(c->vramfit, sizeof c->vramfit, "%s/vramfit", c->vf);
	o.cache_dir = c->vramfit;
	return o;
}

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
	json_t **out = ud;
	*out = json_loadb(p, s * n, 0, NULL);
	return s * n;
}

/* The server's counters: requests and .safetensors bytes sent. */
static json_int_t stat_of(const char *key)
{
	CURL *c = curl_easy_init();
	char url[128];
	json_t *j = NULL;
	snprintf(url, sizeof url, "%s/__stats", endpoint);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &j);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	json_int_t v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	return v;
}

static bool is_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static void fetch_and_cache(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_source_info info;
	vf_error err;
	json_int_t bytes0 = stat_of("safetensors_bytes");
	assert_int_equal(vf_model_resolve("test-org/tiny-llama", &o, &m, &info,
					  &err), VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_HUB);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_int_equal(info.header_elements, TINY_PARAMS);
	assert_int_equal(info.n_shards, 1);
	assert_string_equal(info.revision, COMMIT);
	assert_non_null(strstr(info.location, endpoint));
	assert_string_equal(m.name, "test-org/tiny-llama");
	/* The file holds 1 MiB of weights after its header: what came over
	 * the wire is the 8-byte length and the header, twice at most. */
	json_int_t sent = stat_of("safetensors_bytes") - bytes0;
	assert_true(sent > 8 && sent < 8192);

	/* the HF layout, config as a real file, refs/main -> the commit */
	char p[1024];
	snprintf(p, sizeof p, "%s/models--test-org--tiny-llama/snapshots/%s/"
		 "config.json", c.hf, COMMIT);
	assert_true(is_file(p));
	snprintf(p, sizeof p, "%s/models--test-org--tiny-llama/refs/main", c.hf);
	assert_string_equal(slurp(p), COMMIT);
	/* no partial .safetensors in the HF cache; the header in vramfit's */
	snprintf(p, sizeof p, "%s/models--test-org--tiny-llama/snapshots/%s/"
		 "model.safetensors", c.hf, COMMIT);
	assert_false(is_file(p));
	snprintf(p, sizeof p, "%s/headers/models--test-org--tiny-llama/%s/"
		 "model.safetensors.header", o.cache_dir, COMMIT);
	assert_true(is_file(p));

	/* offline, from the caches alone: not one request */
	json_int_t req0 = stat_of("requests");
	o.offline = true;
	assert_int_equal(vf_model_resolve("test-org/tiny-llama", &o, &m, &info,
					  &err), VF_OK);
	assert_int_equal(info.kind, VF_SOURCE_CACHE);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_int_equal(info.n_shards, 1);
	assert_int_equal(stat_of("requests") - req0, 1); /* the stats call */

	/* a revision by tag: refs/v1 */
	o.offline = false;
	assert_int_equal(vf_model_resolve("test-org/tiny-llama@v1", &o, &m,
					  &info, &err), VF_OK);
	assert_string_equal(info.revision, COMMIT_V1);
	snprintf(p, sizeof p, "%s/models--test-org--tiny-llama/refs/v1", c.hf);
	assert_string_equal(slurp(p), COMMIT_V1);

	/* offline and never fetched */
	o.offline = true;
	assert_int_equal(vf_model_resolve("test-org/sharded", &o, &m, &info,
					  &err), VF_ENOTFOUND);
	assert_non_null(strstr(err.message, "offline"));
}

/* Two shards named by the index, 16 parameters more than the config. */
static void sharded_disagrees(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_source_info info;
	vf_error err;
	assert_int_equal(vf_model_resolve("test-org/sharded", &o, &m, &info,
					  &err), VF_OK);
	assert_int_equal(info.n_shards, 2);
	assert_int_equal(info.config_params, TINY_PARAMS);
	assert_int_equal(m.params.total, TINY_PARAMS + 16);
	assert_true(info.params_from_headers);
	assert_true(info.n_warnings >= 1);
	assert_non_null(strstr(info.warnings[0], "headers"));
	char p[1024];
	snprintf(p, sizeof p, "%s/models--test-org--sharded/snapshots/%s/"
		 "model.safetensors.index.json", c.hf, COMMIT);
	assert_true(is_file(p));
}

/* A cache that cannot be written: the model still resolves, said so. */
static void unwritable_cache(void **state)
{
	(void)state;
	caches c = fresh();
	char file[300];
	snprintf(file, sizeof file, "%.256s/a-file", base);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(c.hf, sizeof c.hf, "%s/hf", file); /* under a regular file */
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_source_info info;
	vf_error err;
	assert_int_equal(vf_model_resolve("test-org/sharded", &o, &m, &info,
					  &err), VF_OK);
	assert_int_equal(m.params.total, TINY_PARAMS + 16);
	assert_int_equal(info.n_shards, 2);
	bool said = false;
	for (unsigned i = 0; i < info.n_warnings; i++)
		said |= strstr(info.warnings[i], "not cached") != NULL;
	assert_true(said);
}

static void gated(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_error err;
	unsetenv("HF_TOKEN");
	char home[400];
	snprintf(home, sizeof home, "%s/no-token-home", base);
	setenv("HF_HOME", home, 1); /* no token file there */
	assert_int_equal(vf_model_resolve("test-org/gated", &o, &m, NULL, &err),
			 VF_EAUTH);
	assert_non_null(strstr(err.message, "HF_TOKEN"));
	assert_non_null(strstr(err.message, "huggingface-cli login"));

	o.token = "wrong-token";
	assert_int_equal(vf_model_resolve("test-org/gated", &o, &m, NULL, &err),
			 VF_EAUTH);
	assert_non_null(strstr(err.message, "refused"));
	assert_null(strstr(err.message, "wrong-token"));

	o.token = "good-token";
	assert_int_equal(vf_model_resolve("test-org/gated", &o, &m, NULL, &err),
			 VF_OK);
	assert_int_equal(m.params.total, TINY_PARAMS);

	/* the token file under HF_HOME, fresh caches so it is fetched again */
	caches c2 = fresh();
	vf_source_opts o2 = opts_for(&c2);
	snprintf(home, sizeof home, "%s/token-home", base);
	mkdir(home, 0777);
	char tf[500];
	snprintf(tf, sizeof tf, "%s/token", home);
	FILE *f = fopen(tf, "w");
	assert_non_null(f);
	fputs("good-token\n", f);
	fclose(f);
	setenv("HF_HOME", home, 1);
	assert_int_equal(vf_model_resolve("test-org/gated", &o2, &m, NULL, &err),
			 VF_OK);
	unsetenv("HF_HOME");
}

static void not_found(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_error err;
	assert_int_equal(vf_model_resolve("test-org/no-such-repo", &o, &m, NULL,
					  &err), VF_ENOTFOUND);
	assert_non_null(strstr(err.message, "no such repository"));
	assert_int_equal(vf_model_resolve("test-org/tiny-llama@nope", &o, &m,
					  NULL, &err), VF_ENOTFOUND);
	assert_non_null(strstr(err.message, "revision \"nope\""));
	/* no safetensors at all: the config's counts, said so */
	vf_source_info info;
	assert_int_equal(vf_model_resolve("test-org/no-safetensors", &o, &m,
					  &info, &err), VF_OK);
	assert_int_equal(info.n_shards, 0);
	assert_int_equal(m.params.total, TINY_PARAMS);
	assert_non_null(strstr(info.warnings[0], "no safetensors"));
}

static void retries(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_error err;
	/* every other request answers 503 once */
	assert_int_equal(vf_model_resolve("test-org/flaky", &o, &m, NULL, &err),
			 VF_OK);
	assert_int_equal(m.params.total, TINY_PARAMS);
	o.retries = 2;
	assert_int_equal(vf_model_resolve("test-org/broken", &o, &m, NULL, &err),
			 VF_ENET);
	assert_non_null(strstr(err.message, "HTTP 500"));
	assert_non_null(strstr(err.message, "3 tries"));
	/* nothing listens on port 1 */
	o.endpoint = "http://127.0.0.1:1";
	o.retries = 1;
	assert_int_equal(vf_model_resolve("test-org/tiny-llama", &o, &m, NULL,
					  &err), VF_ENET);
	assert_non_null(strstr(err.message, "cannot reach"));
}

static void stalled_server_times_out(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_error err;
	setenv("VRAMFIT_HTTP_RETRIES", "0", 1);
	o.timeout_s = 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vf_model_resolve("test-org/stall", &o, &m, NULL, &err),
			 VF_ENET);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unsetenv("VRAMFIT_HTTP_RETRIES");
	assert_non_null(strstr(err.message, "no answer within 1 s"));
	assert_true(t1.tv_sec - t0.tv_sec < 4);
}

static void broken_headers(void **state)
{
	(void)state;
	static const struct {
		const char *repo;
		vf_status st;
		const char *mentions;
	} cases[] = {
		{"test-org/truncated", VF_EPARSE, "truncated"},
		{"test-org/huge", VF_EPARSE, "100 MB"},
		{"test-org/badjson", VF_EPARSE, "header JSON"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		caches c = fresh();
		vf_source_opts o = opts_for(&c);
		vf_model m;
		vf_error err;
		json_int_t bytes0 = stat_of("safetensors_bytes");
		vf_status st = vf_model_resolve(cases[i].repo, &o, &m, NULL, &err);
		if (st != cases[i].st || !strstr(err.message, cases[i].mentions))
			fail_msg("%s: %s \"%s\"", cases[i].repo,
				 vf_status_name(st), err.message);
		/* the 10 GB claim was refused before asking for it */
		assert_true(stat_of("safetensors_bytes") - bytes0 < 4096);
	}
}

static void quantized_and_no_range(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	vf_model m;
	vf_source_info info;
	vf_error err;
	assert_int_equal(vf_model_resolve("test-org/gptq", &o, &m, &info, &err),
			 VF_OK);
	assert_int_equal(info.prequant, VF_PREQUANT_GPTQ);
	bool i32 = false;
	for (unsigned i = 0; i < info.n_dtypes; i++)
		i32 |= strcmp(info.dtypes[i].dtype, "I32") == 0;
	assert_true(i32);
	/* a server that ignores Range: read only as far as the header */
	assert_int_equal(vf_model_resolve("test-org/norange", &o, &m, &info,
					  &err), VF_OK);
	assert_int_equal(m.params.total, TINY_PARAMS);
}

typedef struct progress_log {
	unsigned lines, ends;
	bool named;               /* a line named the repo and file */
	bool ended_last;
} progress_log;

static void on_progress(const char *line, void *payload)
{
	progress_log *p = payload;
	if (line) {
		p->lines++;
		p->named |= strstr(line, "test-org/slow: config.json") != NULL;
		p->ended_last = false;
	} else {
		p->ends++;
		p->ended_last = true;
	}
}

/* A fetch of more than a second reports progress, then clears it; a quick
 * one says nothing. */
static void progress_while_slow(void **state)
{
	(void)state;
	caches c = fresh();
	vf_source_opts o = opts_for(&c);
	progress_log log = {0};
	o.progress = on_progress;
	o.payload = &log;
	vf_model m;
	vf_error err;
	assert_int_equal(vf_model_resolve("test-org/slow", &o, &m, NULL, &err),
			 VF_OK);
	assert_true(log.lines >= 1);
	assert_true(log.named);
	assert_int_equal(log.ends, 1);
	assert_true(log.ended_last);
	progress_log quick = {0};
	o.payload = &quick;
	assert_int_equal(vf_model_resolve("test-org/tiny-llama", &o, &m, NULL,
					  &err), VF_OK);
	assert_int_equal(quick.lines + quick.ends, 0);
}

static bool leaks(const cli_result *r, const char *secret)
{
	return strstr(r->out, secret) || strstr(r->err, secret);
}

/* The CLI: exit statuses, one line, --offline, and the token nowhere. */
static void cli_and_token(void **state)
{
	(void)state;
	fresh();
	setenv("HF_TOKEN", "secret-xyz", 1);
	setenv("VRAMFIT_HTTP_RETRIES", "1", 1);
	const char *const repos[] = {"test-org/gated", "test-org/broken",
				     "test-org/no-such-repo",
				     "test-org/truncated"};
	const int want[] = {2, 3, 2, 2};
	for (size_t i = 0; i < 4; i++) {
		cli_result r = cli_run(ARGS("estimate", "--model", repos[i]));
		if (r.status != want[i] || leaks(&r, "secret-xyz") ||
		    cli_count_lines(r.err) != 1 || !strstr(r.err, repos[i]))
			fail_msg("%s: status %d, stderr \"%s\"", repos[i],
				 r.status, r.err);
		cli_result_free(&r);
	}
	setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
	cli_result r = cli_run(ARGS("estimate", "--model", "test-org/x"));
	assert_int_equal(r.status, 3);
	assert_false(leaks(&r, "secret-xyz"));
	cli_result_free(&r);
	setenv("HF_ENDPOINT", endpoint, 1);
	unsetenv("HF_TOKEN");
	unsetenv("VRAMFIT_HTTP_RETRIES");

	/* fetched once, then --offline with the Hub out of reach */
	r = cli_run(ARGS("estimate", "--model", "test-org/sharded"));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "6,752 parameters"));
	assert_non_null(strstr(r.err, "vramfit: note:"));
	cli_result_free(&r);
	setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
	r = cli_run(ARGS("estimate", "--model", "test-org/sharded", "--offline"));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "6,752 parameters"));
	cli_result_free(&r);
	r = cli_run(ARGS("estimate", "--model", "test-org/gptq", "--offline"));
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "offline"));
	cli_result_free(&r);
	setenv("HF_ENDPOINT", endpoint, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fetch_and_cache),
		cmocka_unit_test(sharded_disagrees),
		cmocka_unit_test(unwritable_cache),
		cmocka_unit_test(gated),
		cmocka_unit_test(not_found),
		cmocka_unit_test(retries),
		cmocka_unit_test(stalled_server_times_out),
		cmocka_unit_test(broken_headers),
		cmocka_unit_test(quantized_and_no_range),
		cmocka_unit_test(progress_while_slow),
		cmocka_unit_test(cli_and_token),
	};
	return cmocka_run_group_tests(tests, start_server, stop_server);
}
