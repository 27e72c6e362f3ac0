/* SPDX-License-Identifier: BSD-2-Clause */
#include "helper/flow.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/sanitize.h"
#include "helper/api_parse.h"

#define CALL_ATTEMPTS 3
/* The pause before the first retry of a fast failure; it doubles for each next one. */
#define RETRY_PAUSE_MS 250
#define BACKOFF_MAX_MS 30000
#define RETRY_AFTER_MAX_MS 60000

static void sleep_until(long long when_ms)
{
	long long left = when_ms - np_monotonic_ms();

	if (left > 0) {
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) != 0)
			;
	}
}

/* When a call starting now must be over: request_timeout from now, never past limit_ms. */
static long long call_budget_end(const struct np_flow *f, long long limit_ms)
{
	long long end = np_monotonic_ms() + f->http.request_timeout_ms;

	return end < limit_ms ? end : limit_ms;
}

int np_flow_emit(struct np_flow *f, const struct np_msg *m)
{
	size_t len = 0;
	int rc = -1;

	if (np_msg_encode(m, f->line, sizeof f->line, &len) == 0)
		rc = np_write_all(f->to_module, f->line, len);
	sodium_memzero(f->line, sizeof f->line);
	return rc;
}

int np_flow_fail(struct np_flow *f, enum np_failure_reason reason, const char *detail)
{
	np_msg_init(&f->out, NP_MSG_FAILURE);
	f->out.failure.reason = reason;
	np_sanitize_str(f->out.failure.detail, sizeof f->out.failure.detail, detail);
	return np_flow_emit(f, &f->out);
}

/* What a completed exchange that went wrong means, as a failure reason. */
struct call_failure {
	enum np_failure_reason reason;
	char detail[NP_PROTO_DETAIL_MAX];
};

static bool retryable_status(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/*
 * One API call, over by budget_end_ms whatever happens: each attempt gets only
 * what is left of the budget.  A failure that came fast (refused, reset or cut
 * connection, 5xx, 429) is tried again, up to attempts times, after a short
 * pause (or Retry-After) that must also fit in the budget.  A timeout is not:
 * an API that stalled once would only stall again, and every retry would make
 * each sign-in wait that much longer.  Returns 0 with a final HTTP status in
 * resp (which may still be 4xx), or -1 with why in failure.  The reason is
 * unreachable only when no attempt reached the API at all: one that got an
 * answer or a connection makes it unavailable, as NextPay was there.
 */
static int call_api(struct np_flow *f, const char *method, const char *path,
                    const char *bearer, const char *body, int attempts, long long budget_end_ms,
                    struct np_http_response *resp, struct call_failure *failure)
{
	long long pause_ms = RETRY_PAUSE_MS;
	bool reached = false;

	for (int attempt = 1;; attempt++) {
		char detail[NP_PROTO_DETAIL_MAX] = "";
		long long left_ms = budget_end_ms - np_monotonic_ms();
		enum np_http_result result =
			np_http_request(&f->http, method, path, bearer, body,
			                left_ms > 0 ? (long)left_ms : 1, resp, detail, sizeof detail);
		long long wait_ms = pause_ms;

		reached = reached || (result != NP_HTTP_UNREACHABLE && result != NP_HTTP_TIMEOUT);
		failure->reason = reached ? NP_FAIL_UNAVAILABLE : NP_FAIL_UNREACHABLE;
		switch (result) {
		case NP_HTTP_OK:
			if (!retryable_status(resp->status))
				return 0;
			snprintf(failure->detail, sizeof failure->detail, "HTTP %ld from %s", resp->status,
			         path);
			if (resp->retry_after > 0)
				wait_ms = resp->retry_after * 1000L;
			break;
		case NP_HTTP_UNREACHABLE:
		case NP_HTTP_TRANSIENT:
			snprintf(failure->detail, sizeof failure->detail, "%s", detail);
			break;
		case NP_HTTP_TIMEOUT:
			snprintf(failure->detail, sizeof failure->detail, "%s", detail);
			return -1;
		case NP_HTTP_TLS:
			snprintf(failure->detail, sizeof failure->detail, "%s", detail);
			failure->reason = NP_FAIL_TLS;
			return -1;
		case NP_HTTP_TOO_LARGE:
			snprintf(failure->detail, sizeof failure->detail, "%s", detail);
			failure->reason = NP_FAIL_MALFORMED;
			return -1;
		case NP_HTTP_FAILED:
		default:
			snprintf(failure->detail, sizeof failure->detail, "%s", detail);
			return -1;
		}
		if (attempt >= attempts || np_monotonic_ms() + wait_ms >= budget_end_ms)
			return -1;
		sleep_until(np_monotonic_ms() + wait_ms);
		pause_ms *= 2;
	}
}

static int fail_call(struct np_flow *f, const struct call_failure *failure)
{
	return np_flow_fail(f, failure->reason, failure->detail);
}

/*
 * A final status no endpoint documents.  A 4xx (429 was retried before) is
 * the API answering no to this request: a refusal, never "unreachable",
 * which a break-glass stack turns into a password prompt.  Otherwise an
 * API that answers with a key or a code it dislikes (an odd npk_ key typed
 * at the prompt, a denial sent as a 403) would open it.
 */
static int fail_status(struct np_flow *f, const char *path, long status)
{
	char detail[NP_PROTO_DETAIL_MAX];
	bool refused = status >= 400 && status <= 499;

	snprintf(detail, sizeof detail, "%s HTTP %ld from %s", refused ? "refused:" : "unexpected",
	         status, path);
	return np_flow_fail(f, refused ? NP_FAIL_UNAUTHORIZED : NP_FAIL_UNAVAILABLE, detail);
}

static int fail_parse(struct np_flow *f, const char *path, const char *why)
{
	char detail[NP_PROTO_DETAIL_MAX];

	snprintf(detail, sizeof detail, "%s: %s", path, why);
	return np_flow_fail(f, NP_FAIL_MALFORMED, detail);
}

/*
 * /auth/me with token, over by budget_end_ms, then the identity (with the
 * token when keep_token) to the module.
 */
static int report_identity(struct np_flow *f, const char *token, bool keep_token,
                           long long budget_end_ms)
{
	static const char path[] = "/auth/me";
	struct np_http_response resp;
	struct call_failure failure;
	char err[128];
	int rc;

	if (call_api(f, "GET", path, token, NULL, CALL_ATTEMPTS, budget_end_ms, &resp, &failure) !=
	    0)
		return fail_call(f, &failure);
	if (resp.status == 401 || resp.status == 403)
		return np_flow_fail(f, NP_FAIL_UNAUTHORIZED, "the API did not accept the token");
	if (resp.status != 200)
		return fail_status(f, path, resp.status);
	np_msg_init(&f->out, NP_MSG_IDENTITY);
	if (np_api_parse_me(f->http.body, f->http.body_len, &f->out.identity, err, sizeof err) != 0) {
		np_http_wipe_body(&f->http);
		return fail_parse(f, path, err);
	}
	np_http_wipe_body(&f->http);
	f->out.identity.token_exp = np_jwt_exp(token);
	if (keep_token)
		snprintf(f->out.identity.token, sizeof f->out.identity.token, "%s", token);
	rc = np_flow_emit(f, &f->out);
	np_msg_wipe(&f->out);
	return rc;
}

static int create_code(struct np_flow *f, const struct np_msg_device_login *req,
                       long long deadline_ms, struct np_msg_code *code)
{
	static const char path[] = "/auth/device-code";
	struct json_object *request = json_object_new_object();
	struct np_http_response resp;
	struct call_failure failure;
	char body[256];
	size_t body_len = 0;
	char err[128];

	if (request == NULL ||
	    json_object_object_add(request, "intent", json_object_new_string(req->intent)) != 0 ||
	    np_json_serialise(request, body, sizeof body, &body_len) != 0) {
		np_json_free(request);
		np_flow_fail(f, NP_FAIL_INTERNAL, "cannot build the request");
		return -1;
	}
	np_json_free(request);
	if (call_api(f, "POST", path, NULL, body, CALL_ATTEMPTS, call_budget_end(f, deadline_ms),
	             &resp, &failure) != 0) {
		fail_call(f, &failure);
		return -1;
	}
	if (resp.status != 200 && resp.status != 201) {
		fail_status(f, path, resp.status);
		return -1;
	}
	if (np_api_parse_device_code(f->http.body, f->http.body_len, code, err, sizeof err) != 0) {
		fail_parse(f, path, err);
		return -1;
	}
	return 0;
}

enum poll_outcome { POLL_WAIT, POLL_APPROVED, POLL_DONE };

/*
 * One status poll, over by end_ms at the latest.  Transient trouble only
 * delays the next poll (with back-off); anything final has been reported to
 * the module when POLL_DONE comes back.
 */
static enum poll_outcome poll_once(struct np_flow *f, const char *path, unsigned interval_s,
                                   long long end_ms, long long *next_poll_ms,
                                   long long *backoff_ms, char *token, size_t token_size)
{
	struct np_http_response resp;
	struct call_failure failure;
	enum np_poll_state state = NP_POLL_PENDING;
	char status[NP_STATUS_MAX + 1];
	char err[128];
	long long now;
	int called;

	called = call_api(f, "GET", path, NULL, NULL, 1, call_budget_end(f, end_ms), &resp, &failure);
	/* Only trouble reaching the API is waited out; TLS or a malformed answer ends the flow. */
	if (called != 0 && failure.reason != NP_FAIL_UNAVAILABLE &&
	    failure.reason != NP_FAIL_UNREACHABLE) {
		fail_call(f, &failure);
		return POLL_DONE;
	}
	now = np_monotonic_ms();
	if (called != 0) {
		long long wait_ms = *backoff_ms;

		if (resp.status == 429 && resp.retry_after > 0)
			wait_ms = resp.retry_after * 1000L;
		if (wait_ms < (long long)interval_s * 1000)
			wait_ms = (long long)interval_s * 1000;
		*next_poll_ms = now + (wait_ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : wait_ms);
		if (resp.status != 429)
			*backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
		return POLL_WAIT;
	}
	*backoff_ms = (long long)interval_s * 1000;
	*next_poll_ms = now + *backoff_ms;
	if (resp.status == 404 || resp.status == 410) {
		np_flow_fail(f, NP_FAIL_EXPIRED, "the API no longer knows the code");
		return POLL_DONE;
	}
	if (resp.status != 200) {
		fail_status(f, "/auth/device-code/{code}", resp.status);
		return POLL_DONE;
	}
	if (np_api_parse_poll(f->http.body, f->http.body_len, &state, token, token_size, status,
	                      sizeof status, err, sizeof err) != 0) {
		np_http_wipe_body(&f->http);
		fail_parse(f, "/auth/device-code/{code}", err);
		return POLL_DONE;
	}
	np_http_wipe_body(&f->http);
	if (state == NP_POLL_APPROVED)
		return POLL_APPROVED;
	if (state == NP_POLL_FINAL) {
		np_flow_fail(f, strcmp(status, "expired") == 0 ? NP_FAIL_EXPIRED : NP_FAIL_DENIED,
		             status);
		return POLL_DONE;
	}
	return POLL_WAIT;
}

enum wake { WAKE_TIMER, WAKE_POLL_NOW, WAKE_GONE };

/* Sleeps until when_ms, unless the module says something first (or goes away). */
static enum wake wait_for_module(struct np_flow *f, long long when_ms)
{
	for (;;) {
		long long left = when_ms - np_monotonic_ms();
		size_t len = 0;
		char err[128];
		struct np_msg *in = &f->out;
		enum np_line_status status;

		if (left <= 0)
			return WAKE_TIMER;
		status = np_line_read(&f->from_module, (int)(left > 60000 ? 60000 : left), f->line,
		                      sizeof f->line, &len);
		if (status == NP_LINE_TIMEOUT)
			continue;
		if (status != NP_LINE_OK)
			return WAKE_GONE;
		if (np_msg_decode(f->line, len, in, err, sizeof err) != 0 || in->type != NP_MSG_POLL_NOW)
			return WAKE_GONE;
		return WAKE_POLL_NOW;
	}
}

/*
 * The device-code flow.  Polls follow one schedule only: poll_interval, longer
 * after trouble (back-off, Retry-After).  A poll_now from the module (the
 * person pressed Enter) never brings a poll forward, or whoever can reach the
 * prompt could make the host poll as fast as they type and get it
 * rate-limited for everyone; it is answered after the next scheduled poll.
 * An approval is sent to the module as soon as it is seen, whether or not
 * the module asked.
 */
int np_flow_device_login(struct np_flow *f, const struct np_msg_device_login *req)
{
	long long deadline_ms = np_monotonic_ms() + (long long)req->timeout * 1000;
	long long backoff_ms = (long long)req->poll_interval * 1000;
	long long end_ms;
	long long next_poll_ms;
	struct np_msg_code code;
	char path[64];
	char *token = sodium_malloc(NP_TOKEN_MAX + 1);
	bool answer_owed = false;
	int rc = 0;

	if (token == NULL)
		return np_flow_fail(f, NP_FAIL_INTERNAL, "out of memory");
	if (create_code(f, req, deadline_ms, &code) != 0)
		goto out;
	np_msg_init(&f->out, NP_MSG_CODE);
	f->out.code = code;
	if (np_flow_emit(f, &f->out) != 0) {
		rc = -1;
		goto out;
	}
	/* The server's clock decides when the code dies; convert once to our clock. */
	end_ms = np_monotonic_ms() + ((long long)code.expires_at - (long long)time(NULL)) * 1000;
	if (end_ms > deadline_ms)
		end_ms = deadline_ms;
	snprintf(path, sizeof path, "/auth/device-code/%s", code.code);
	next_poll_ms = np_monotonic_ms() + backoff_ms;
	for (;;) {
		enum wake wake = wait_for_module(f, next_poll_ms < end_ms ? next_poll_ms : end_ms);
		enum poll_outcome outcome;

		if (wake == WAKE_GONE) {
			rc = -1;
			break;
		}
		if (wake == WAKE_POLL_NOW) {
			answer_owed = true;
			continue;
		}
		if (np_monotonic_ms() >= end_ms) {
			np_flow_fail(f, end_ms < deadline_ms ? NP_FAIL_EXPIRED : NP_FAIL_TIMEOUT,
			             "not approved in time");
			break;
		}
		if (np_monotonic_ms() < next_poll_ms)
			continue;
		outcome = poll_once(f, path, req->poll_interval, end_ms, &next_poll_ms, &backoff_ms,
		                    token, NP_TOKEN_MAX + 1);
		if (outcome == POLL_APPROVED) {
			if (report_identity(f, token, req->want_token, call_budget_end(f, deadline_ms)) != 0)
				rc = -1;
			break;
		}
		if (outcome == POLL_DONE)
			break;
		if (answer_owed) {
			answer_owed = false;
			np_msg_init(&f->out, NP_MSG_PENDING);
			if (np_flow_emit(f, &f->out) != 0) {
				rc = -1;
				break;
			}
		}
	}
out:
	sodium_free(token);
	return rc;
}

int np_flow_whoami(struct np_flow *f, const char *token)
{
	return report_identity(f, token, false, call_budget_end(f, LLONG_MAX));
}

/* The exchange and /auth/me share one budget: the module waits for one answer. */
int np_flow_api_key(struct np_flow *f, const char *api_key)
{
	static const char path[] = "/auth/token";
	long long budget_end_ms = call_budget_end(f, LLONG_MAX);
	struct np_http_response resp;
	struct call_failure failure;
	char *token = sodium_malloc(NP_TOKEN_MAX + 1);
	char err[128];
	int rc;

	if (token == NULL)
		return np_flow_fail(f, NP_FAIL_INTERNAL, "out of memory");
	if (call_api(f, "POST", path, api_key, "{}", CALL_ATTEMPTS, budget_end_ms, &resp,
	             &failure) != 0)
		rc = fail_call(f, &failure);
	else if (resp.status == 401 || resp.status == 403)
		rc = np_flow_fail(f, NP_FAIL_UNAUTHORIZED, "the API did not accept the API key");
	else if (resp.status != 200)
		rc = fail_status(f, path, resp.status);
	else if (np_api_parse_token(f->http.body, f->http.body_len, token, NP_TOKEN_MAX + 1, err,
	                            sizeof err) != 0)
		rc = fail_parse(f, path, err);
	else
		rc = report_identity(f, token, true, budget_end_ms);
	np_http_wipe_body(&f->http);
	sodium_free(token);
	return rc;
}

int np_flow_probe(struct np_flow *f)
{
	/* Any endpoint answers without credentials; /auth/me costs the API nothing. */
	static const char path[] = "/auth/me";
	struct np_http_response resp;
	char detail[NP_PROTO_DETAIL_MAX] = "";
	enum np_http_result result;

	/* One attempt, no retries: the question is whether the API answers at all. */
	result = np_http_request(&f->http, "GET", path, NULL, NULL, f->http.request_timeout_ms, &resp,
	                         detail, sizeof detail);
	np_http_wipe_body(&f->http);
	switch (result) {
	case NP_HTTP_OK:
	case NP_HTTP_TOO_LARGE: /* an answer came, however odd */
		np_msg_init(&f->out, NP_MSG_READY);
		return np_flow_emit(f, &f->out);
	case NP_HTTP_TLS:
		return np_flow_fail(f, NP_FAIL_TLS, detail);
	case NP_HTTP_UNREACHABLE:
	case NP_HTTP_TIMEOUT:
		return np_flow_fail(f, NP_FAIL_UNREACHABLE, detail);
	case NP_HTTP_TRANSIENT:
	case NP_HTTP_FAILED:
	default:
		return np_flow_fail(f, NP_FAIL_UNAVAILABLE, detail);
	}
}
