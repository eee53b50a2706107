/*
 * hub.c - GETs against a Hugging Face Hub endpoint with libcurl.
 *
 * URL form {endpoint}/{repo}/resolve/{revision}/{file} (huggingface_hub
 * HUGGINGFACE_CO_URL_TEMPLATE). The Hub answers with X-Repo-Commit (the
 * commit a revision resolved to) and, on errors, X-Error-Code
 * (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo); both are read
 * from whichever response of a redirect chain carries them. libcurl
 * honours http(s)_proxy / no_proxy itself, verifies TLS by default, and
 * drops the Authorization header when a redirect leaves the host (the Hub
 * redirects large files to a CDN), which is what we want for a token.
 *
 * The token is only ever passed to libcurl as a header. Every message made
 * here goes through vf_scrub anyway, in case a server echoes it.
 */
#include "hub.h"
#include "internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hfcache.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_DEFAULT_TIMEOUT_S 30
#define HUB_DEFAULT_RETRIES 3
#define HUB_DEFAULT_BACKOFF_MS 250
#define HUB_PROGRESS_AFTER_S 1.0
#define TRIES(n) ((n) == 1 ? "try" : "tries")

static long env_long(const char *name, long min, long max, long dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	long n = strtol(v, &end, 10);
	return (*end || n < min || n > max) ? dflt : n;
}

void vf_hub_init(vf_hub *hub, const vf_source_opts *opts)
{
	memset(hub, 0, sizeof *hub);
	const char *ep = opts && opts->endpoint ? opts->endpoint
						: getenv("HF_ENDPOINT");
	vf_strlcpy(hub->endpoint, ep && *ep ? ep : HUB_DEFAULT_ENDPOINT,
		   sizeof hub->endpoint);
	size_t n = strlen(hub->endpoint);
	while (n && hub->endpoint[n - 1] == '/')
		hub->endpoint[--n] = '\0';
	if (opts && opts->token)
		vf_strlcpy(hub->token, opts->token, sizeof hub->token);
	else
		vf_hf_token(hub->token, sizeof hub->token);
	hub->timeout_s = opts && opts->timeout_s > 0
				 ? opts->timeout_s
				 : env_long("VRAMFIT_HTTP_TIMEOUT", 1, 3600,
					    HUB_DEFAULT_TIMEOUT_S);
	hub->retries = opts && opts->retries
			       ? opts->retries
			       : (unsigned)env_long("VRAMFIT_HTTP_RETRIES", 0, 10,
						    HUB_DEFAULT_RETRIES);
	hub->backoff_ms = HUB_DEFAULT_BACKOFF_MS;
	if (opts) {
		hub->progress = opts->progress;
		hub->payload = opts->payload;
	}
}

void vf_scrub(char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	if (n == 0)
		return;
	char *p;
	while ((p = strstr(s, secret))) {
		size_t rest = strlen(p + n);
		if (n >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + n, rest + 1);
		} else {
			/* too short to hold "***": blank it in place */
			memset(p, '*', n);
		}
	}
}

void vf_hub_body_free(vf_hub_body *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

bool vf_hub_missing_file(const vf_hub_body *b)
{
	if (strcmp(b->error_code, "EntryNotFound") == 0)
		return true;
	return b->status == 404 && b->error_code[0] == '\0';
}

/* One transfer's state, shared by the libcurl callbacks. */
typedef struct xfer {
	vf_hub_body *body;
	size_t cap;               /* bytes wanted or allowed */
	bool ranged;              /* stop quietly at cap */
	bool enough;              /* stopped at cap on purpose */
	bool too_large;
	const vf_hub *hub;
	const char *what;         /* "org/name: config.json" */
	struct timespec start;
	double last_shown;
	bool shown;
} xfer;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	vf_hub_body *b = x->body;
	if (b->status >= 300)
		return n; /* an error page: not kept */
	size_t room = x->cap - b->len;
	size_t take = n < room ? n : room;
	if (take) {
		char *p = realloc(b->data, b->len + take + 1);
		if (!p)
			return 0;
		b->data = p;
		memcpy(b->data + b->len, ptr, take);
		b->len += take;
		b->data[b->len] = '\0';
	}
	if (take < n) {
		/* Past what we asked for: a server that ignored Range is not
		 * allowed to send us a checkpoint. */
		if (x->ranged)
			x->enough = true;
		else
			x->too_large = true;
		return 0;
	}
	return n;
}

static void header_value(const char *line, size_t n, const char *name,
			 char *out, size_t size)
{
	size_t k = strlen(name);
	if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	const char *v = line + k + 1;
	const char *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' '))
		end--;
	size_t m = (size_t)(end - v);
	if (m >= size)
		m = size - 1;
	memcpy(out, v, m);
	out[m] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	vf_hub_body *b = x->body;
	if (n > 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response of the redirect chain */
		const char *sp = memchr(line, ' ', n);
		b->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		b->error_code[0] = '\0';
		return n;
	}
	char commit[64] = "", range[96] = "";
	header_value(line, n, "X-Repo-Commit", commit, sizeof commit);
	if (commit[0] && !b->commit[0] && vf_is_commit(commit))
		vf_strlcpy(b->commit, commit, sizeof b->commit);
	header_value(line, n, "X-Error-Code", b->error_code,
		     sizeof b->error_code);
	header_value(line, n, "Content-Range", range, sizeof range);
	const char *slash = range[0] ? strchr(range, '/') : NULL;
	if (slash && slash[1] >= '0' && slash[1] <= '9')
		b->total = strtoull(slash + 1, NULL, 10);
	return n;
}

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)ultotal, (void)ulnow;
	xfer *x = ud;
	if (!x->hub->progress)
		return 0;
	double t = since(&x->start);
	if (t < HUB_PROGRESS_AFTER_S || t - x->last_shown < 0.25)
		return 0;
	char line[400];
	snprintf(line, sizeof line, "fetching %s (%lld bytes, %.0f s)", x->what,
		 (long long)dlnow, t);
	x->hub->progress(line, x->hub->payload);
	x->last_shown = t;
	x->shown = true;
	return 0;
}

static bool transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The message for an HTTP error status, by what the Hub says it is. */
static vf_status http_error(const vf_hub *hub, const vf_hub_body *b,
			    const char *repo, const char *revision,
			    const char *file, const char *url, unsigned tries,
			    vf_error *err)
{
	const char *code = b->error_code;
	bool token = hub->token[0] != '\0';
	if (strcmp(code, "RevisionNotFound") == 0)
		return vf_fail(err, VF_ENOTFOUND,
			       "%s: revision \"%s\" not found on %s", repo,
			       revision, hub->endpoint);
	if (strcmp(code, "EntryNotFound") == 0)
		return vf_fail(err, VF_ENOTFOUND, "%s@%s has no file %s", repo,
			       revision, file);
	if (strcmp(code, "RepoNotFound") == 0 && (b->status == 404 || token))
		return vf_fail(err, VF_ENOTFOUND,
			       "%s: no such repository on %s", repo,
			       hub->endpoint);
	if (strcmp(code, "RepoNotFound") == 0)
		/* The Hub answers 401 for a repo it will not admit exists. */
		return vf_fail(err, VF_ENOTFOUND,
			       "%s: no such repository on %s, or it is private "
			       "or gated (no token given: set HF_TOKEN or run "
			       "`huggingface-cli login`)", repo, hub->endpoint);
	if (b->status == 401 || b->status == 403) {
		if (!token)
			return vf_fail(err, VF_EAUTH,
				       "%s is gated or private and no token was "
				       "given: set HF_TOKEN or run "
				       "`huggingface-cli login` (HTTP %ld)",
				       repo, b->status);
		return vf_fail(err, VF_EAUTH,
			       "%s: the token was refused (HTTP %ld): for a "
			       "gated model, accept its terms on the model page "
			       "with the account the token belongs to",
			       repo, b->status);
	}
	if (b->status == 404)
		return vf_fail(err, VF_ENOTFOUND, "%s@%s: %s not found (HTTP 404 "
			       "from %s)", repo, revision, file, url);
	if (b->status >= 500 || b->status == 429)
		return vf_fail(err, VF_ENET, "%s: server error HTTP %ld after %u "
			       "%s (%s)", repo, b->status, tries, TRIES(tries), url);
	return vf_fail(err, VF_ENET, "%s: unexpected HTTP %ld from %s", repo,
		       b->status, url);
}

static vf_status get_once(CURL *c, xfer *x, const char *url, CURLcode *rc,
			  char *curl_msg)
{
	vf_hub_body *b = x->body;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->status = 0;
	b->error_code[0] = '\0';
	b->total = UINT64_MAX;
	x->enough = x->too_large = false;
	curl_msg[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &x->start);
	curl_easy_setopt(c, CURLOPT_URL, url);
	*rc = curl_easy_perform(c);
	if (*rc == CURLE_WRITE_ERROR && x->enough)
		*rc = CURLE_OK;
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code)
		b->status = code;
	return VF_OK;
}

vf_status vf_hub_get(const vf_hub *hub, const char *repo, const char *revision,
		     const char *file, uint64_t offset, uint64_t length,
		     size_t max_len, vf_hub_body *out, vf_error *err)
{
	memset(out, 0, sizeof *out);
	out->total = UINT64_MAX;
	CURL *c = curl_easy_init();
	if (!c)
		return vf_fail(err, VF_ENOMEM, "libcurl: cannot start a transfer");
	char *rev = curl_easy_escape(c, revision, 0);
	char url[2048], what[400], range[64], auth[600], curl_msg[CURL_ERROR_SIZE];
	snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", hub->endpoint, repo,
		 rev ? rev : revision, file);
	curl_free(rev);
	snprintf(what, sizeof what, "%s: %s", repo, file);
	xfer x = {.body = out, .hub = hub, .what = what,
		  .cap = length ? (size_t)length : max_len, .ranged = length > 0};

	struct curl_slist *headers = NULL;
	if (hub->token[0]) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s",
			 hub->token);
		headers = curl_slist_append(headers, auth);
	}
	headers = curl_slist_append(headers, "Accept-Encoding: identity");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (length) {
		snprintf(range, sizeof range, "%llu-%llu",
			 (unsigned long long)offset,
			 (unsigned long long)(offset + length - 1));
		curl_easy_setopt(c, CURLOPT_RANGE, range);
	}
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, hub->timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, hub->timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, hub->timeout_s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vramfit/" VRAMFIT_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);

	vf_status st = VF_OK;
	CURLcode rc = CURLE_OK;
	unsigned tries = 0;
	long wait = hub->backoff_ms;
	for (;;) {
		tries++;
		get_once(c, &x, url, &rc, curl_msg);
		bool retry = rc != CURLE_OK ? transient(rc)
					    : (out->status >= 500 ||
					       out->status == 429);
		if (!retry || tries > hub->retries)
			break;
		sleep_ms(wait);
		wait *= 2;
	}
	if (x.shown && hub->progress)
		hub->progress(NULL, hub->payload);

	if (x.too_large)
		st = vf_fail(err, VF_EINVAL, "%s: larger than %zu bytes (%s)",
			     repo, max_len, url);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		st = vf_fail(err, VF_ENET, "%s: no answer within %ld s from %s "
			     "after %u %s (VRAMFIT_HTTP_TIMEOUT sets the "
			     "limit)", repo, hub->timeout_s, url, tries,
			     TRIES(tries));
	else if (rc != CURLE_OK)
		st = vf_fail(err, VF_ENET, "%s: cannot reach %s after %u %s: "
			     "%s", repo, hub->endpoint, tries, TRIES(tries),
			     curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
	else if (out->status != 200 && out->status != 206)
		st = http_error(hub, out, repo, revision, file, url, tries, err);
	else if (length && out->len < length)
		st = vf_fail(err, VF_EPARSE, "%s: %s is truncated: asked for "
			     "%llu bytes at %llu, got %zu", repo, file,
			     (unsigned long long)length,
			     (unsigned long long)offset, out->len);
	else if (length && out->status == 200 && offset > 0) {
		/* Range ignored: the body (cut at the cap) starts at byte 0,
		 * not at the header we asked for. */
		st = vf_fail(err, VF_ENET, "%s: the server ignored the Range "
			     "request for %s", repo, file);
	}
	if (st && err)
		vf_scrub(err->message, hub->token);
	if (st) {
		free(out->data);
		out->data = NULL;
		out->len = 0;
	}
	curl_slist_free_all(headers);
	memset(auth, 0, sizeof auth);
	curl_easy_cleanup(c);
	return st;
}
