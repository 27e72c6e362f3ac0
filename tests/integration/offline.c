/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offline_grace through the real libpam, helper and mock: a cached approval
 * signs in without /auth/me only while NextPay does not answer at all, only
 * within the grace counted from its last online confirmation, and never past
 * cache_ttl, the token's exp, the identity map or its scope.  The cache scope
 * here is user, so that no terminal is needed: the scope rules themselves are
 * integration_cache's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SERVICE "np-items"
#define OTHER_SERVICE "np-poll"
#define AT_WARNING "SYSLOG(4): "

static struct mock api;
static char cache_dir[1024], key_path[1024];

/*
 * The settings of a test: the cache in this suite's directory, user scope,
 * and extra (offline_grace, an unreachable api_url ...).  The cache itself
 * is left as it is.
 */
static void settings(const char *extra)
{
	char text[4096];

	snprintf(text, sizeof text,
	         "cache = yes\ncache_dir = %s\ncache_key = %s\ncache_scope = user\n%s", cache_dir,
	         key_path, extra != NULL ? extra : "");
	write_config(&api, text);
}

/* The same settings, with nobody listening where the API was. */
static void nextpay_unreachable(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof text, "api_url = https://127.0.0.1:%d/v1\n%s", refused_port(),
	         extra != NULL ? extra : "");
	settings(text);
}

static int group_setup(void **state)
{
	(void)state;
	if (mock_start(&api, "mock-offline", NULL) != 0)
		return -1;
	snprintf(cache_dir, sizeof cache_dir, "%s/offline-cache", test_dir());
	snprintf(key_path, sizeof key_path, "%s/conf/offline.key", test_dir());
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

/* Fresh mock, fresh key, empty cache, usr_alice may be this account. */
static int reset(void **state)
{
	char map[512];

	(void)state;
	reset_mock(&api);
	mock_auto(&api, "approve", "usr_alice", 0.2);
	assert_int_equal(run_shell("rm -rf %s", cache_dir), 0);
	assert_int_equal(write_cache_key(key_path, 0600), 0);
	snprintf(map, sizeof map, "usr_alice %s\n", test_account());
	write_usermap(map);
	unsetenv("PAM_TTY");
	unsetenv("PAM_RHOST");
	unsetenv("PAM_RUSER");
	unsetenv("PAM_AUTHTOK");
	return 0;
}

/* One sign-in through service; what the module logged is in log_text. */
static int sign_in(const char *service, struct script *s)
{
	return run_logged(service, test_account(), s, 0);
}

/* A sign-in that must succeed; the module's log is kept in log_text. */
static void approved(const char *service)
{
	struct script s = { 0 };

	expect_rc(sign_in(service, &s), PAM_SUCCESS, &s);
}

/* How many entries the cache holds. */
static int entries(void)
{
	return cache_entry_count(cache_dir);
}

/* The outcome line's field key holds part. */
static void expect_outcome(const char *key, const char *part)
{
	char line[8192], value[4096];

	if (!log_outcome_line(log_text, line, sizeof line) ||
	    !log_field(line, key, value, sizeof value) || strstr(value, part) == NULL)
		fail_msg("the outcome line's %s does not hold \"%s\"; the log:\n%s", key, part,
		         log_text);
}

/* Some line of the log holds both parts. */
static void expect_line(const char *part1, const char *part2)
{
	for (const char *line = log_text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

		if (memmem(line, len, part1, strlen(part1)) != NULL &&
		    memmem(line, len, part2, strlen(part2)) != NULL)
			return;
		line = end != NULL ? end + 1 : line + len;
	}
	fail_msg("no line of the log holds \"%s\" and \"%s\":\n%s", part1, part2, log_text);
}

/*
 * A sign-in that offline reuse must not let in: NextPay's silence decides, as
 * without it, on the cached approval (cached-approval) or, once the entry was
 * dropped, in the device flow (device-code).
 */
static void unavailable_by(const char *service, const char *method)
{
	struct script s = { 0 };

	expect_rc(sign_in(service, &s), PAM_AUTHINFO_UNAVAIL, &s);
	expect_outcome("method", method);
}

static void unavailable(const char *service)
{
	unavailable_by(service, "cached-approval");
}

/* ---- the grace ---- */

static void within_the_grace_signs_in_offline(void **state)
{
	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	nextpay_unreachable("offline_grace = 600\n");
	approved(SERVICE);
	/* Every offline sign-in is a warning, with its method and why. */
	expect_line(AT_WARNING "success: ", "method=\"cached-offline\"");
	expect_outcome("nextpay_id", "usr_alice");
	expect_outcome("reason", "NextPay unreachable; last confirmed online ");
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(entries(), 1);
}

/* No answer in time is no answer at all. */
static void a_stalled_api_counts_as_unreachable(void **state)
{
	(void)state;
	settings("offline_grace = 600\nrequest_timeout = 1\n");
	approved(SERVICE);
	mock_fault(&api, "{\"endpoint\": \"me\", \"kind\": \"slow\", \"delay\": 4, \"count\": -1}");
	approved(SERVICE);
	expect_outcome("method", "cached-offline");
}

static void beyond_the_grace_is_unavailable(void **state)
{
	(void)state;
	settings("offline_grace = 1\n");
	approved(SERVICE);
	sleep(2);
	nextpay_unreachable("offline_grace = 1\n");
	unavailable(SERVICE);
	expect_line("not reused offline", "longer ago than offline_grace");
	/* Kept: it may serve again once NextPay answers. */
	assert_int_equal(entries(), 1);
}

static void no_grace_is_unavailable(void **state)
{
	(void)state;
	settings(NULL);
	approved(SERVICE);
	nextpay_unreachable(NULL);
	unavailable(SERVICE);
	assert_int_equal(entries(), 1);
}

/*
 * A reuse that /auth/me confirms counts as a confirmation: the grace runs
 * from it, not from the approval.  Approved at 0, confirmed at about 3,
 * offline at about 6: past 5 s from the approval, within 5 s of the check.
 */
static void an_online_reuse_restarts_the_grace(void **state)
{
	(void)state;
	settings("offline_grace = 5\n");
	approved(SERVICE);
	sleep(3);
	approved(SERVICE);
	expect_outcome("method", "cached-approval");
	sleep(3);
	nextpay_unreachable("offline_grace = 5\n");
	approved(SERVICE);
	expect_outcome("method", "cached-offline");
	assert_int_equal(mock_count(&api, "create"), 1);
}

/* ---- NextPay answered: never offline ---- */

static void revoked_token_is_removed_not_reused(void **state)
{
	struct script s = { 0 };

	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	assert_int_equal(mock_post(&api, "revoke", "{\"user\": \"usr_alice\"}"), 200);
	mock_auto(&api, "deny", "usr_alice", 0.2);
	expect_rc(sign_in(SERVICE, &s), PAM_MAXTRIES, &s);
	expect_line("cache:", "token no longer accepted; entry removed");
	assert_int_equal(entries(), 0);
}

static void server_error_is_no_outage_for_the_cache(void **state)
{
	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	mock_fault(&api, "{\"endpoint\": \"me\", \"kind\": \"status\", \"status\": 503, "
	                 "\"count\": -1}");
	unavailable(SERVICE);
	expect_outcome("reason", "unavailable: HTTP 503");
	expect_line("not reused offline", "NextPay answered");
}

static void connection_cut_is_no_outage_for_the_cache(void **state)
{
	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	mock_fault(&api, "{\"endpoint\": \"me\", \"kind\": \"reset\", \"count\": -1}");
	unavailable(SERVICE);
	expect_outcome("reason", "unavailable: ");
}

/* Someone in the path with another certificate must not be able to force offline reuse. */
static void tls_failure_is_no_outage_for_the_cache(void **state)
{
	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	settings("offline_grace = 600\nca_file = /etc/ssl/certs/ca-certificates.crt\n");
	unavailable(SERVICE);
	expect_outcome("reason", "tls: ");
}

/* ---- the bounds of any reuse hold offline too ---- */

static void map_that_no_longer_allows_removes_it(void **state)
{
	char map[512];

	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	snprintf(map, sizeof map, "usr_bob %s\n", test_account());
	write_usermap(map);
	nextpay_unreachable("offline_grace = 600\n");
	unavailable(SERVICE);
	expect_line("cache:", "no longer allowed by the map; entry removed");
	assert_int_equal(entries(), 0);
}

static void token_past_its_exp_is_not_reused(void **state)
{
	(void)state;
	assert_int_equal(mock_post(&api, "config", "{\"token_lifetime\": 2}"), 200);
	settings("offline_grace = 600\n");
	approved(SERVICE);
	sleep(3);
	nextpay_unreachable("offline_grace = 600\n");
	unavailable_by(SERVICE, "device-code");
	expect_line("cache: entry not used", "token expired; removed");
	assert_int_equal(entries(), 0);
}

/*
 * A token without exp: NextPay alone knows how long it holds, so only an
 * online reuse may serve it; offline it stays in the cache, unused.
 */
static void token_without_exp_is_not_reused_offline(void **state)
{
	(void)state;
	assert_int_equal(mock_post(&api, "config", "{\"token_lifetime\": null}"), 200);
	settings("offline_grace = 600\n");
	approved(SERVICE);
	approved(SERVICE);
	expect_outcome("method", "cached-approval");
	nextpay_unreachable("offline_grace = 600\n");
	unavailable(SERVICE);
	expect_line("not reused offline", "the token's expiry is unknown");
	assert_int_equal(entries(), 1);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void past_cache_ttl_is_not_reused(void **state)
{
	(void)state;
	settings("offline_grace = 600\ncache_ttl = 1\n");
	approved(SERVICE);
	sleep(2);
	nextpay_unreachable("offline_grace = 600\ncache_ttl = 1\n");
	unavailable_by(SERVICE, "device-code");
	expect_line("cache: entry not used", "older than cache_ttl; removed");
}

static void another_scope_is_not_served(void **state)
{
	(void)state;
	settings("offline_grace = 600\n");
	approved(SERVICE);
	nextpay_unreachable("offline_grace = 600\n");
	/* Another service: no entry of its own, so the device flow meets the outage. */
	unavailable_by(OTHER_SERVICE, "device-code");
	/* Another invoking user (PAM_RUSER) in the same service: the same. */
	setenv("PAM_RUSER", "someone-else", 1);
	unavailable_by(SERVICE, "device-code");
	/* The entry itself still serves its own scope. */
	unsetenv("PAM_RUSER");
	approved(SERVICE);
	expect_outcome("method", "cached-offline");
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(within_the_grace_signs_in_offline),
		T(a_stalled_api_counts_as_unreachable),
		T(beyond_the_grace_is_unavailable),
		T(no_grace_is_unavailable),
		T(an_online_reuse_restarts_the_grace),
		T(revoked_token_is_removed_not_reused),
		T(server_error_is_no_outage_for_the_cache),
		T(connection_cut_is_no_outage_for_the_cache),
		T(tls_failure_is_no_outage_for_the_cache),
		T(map_that_no_longer_allows_removes_it),
		T(token_past_its_exp_is_not_reused),
		T(token_without_exp_is_not_reused_offline),
		T(past_cache_ttl_is_not_reused),
		T(another_scope_is_not_served),
	};

	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("offline_grace", tests, group_setup, group_teardown);
}
