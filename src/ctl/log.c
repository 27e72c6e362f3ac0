/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl log: the recent sign-ins from the journal, one line each (or one
 * JSON object each), as the module sent them (common/events.h).
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sanitize.h"
#include "ctl/ctl.h"

static const char log_help[] =
	"Usage: " NP_CTL_PROGRAM " log [--since TIME] [--json]\n"
	"\n"
	"Shows the sign-ins the module logged to the systemd journal, oldest first: time,\n"
	"account, NextPay user id, PAM service, source (remote host, else terminal),\n"
	"method, result, approval wait and reference.  Read from the local journal\n"
	"(as root, or in the systemd-journal group, to see the whole system journal).\n"
	"\n"
	"  --since TIME   from TIME on (default: -24h).  TIME is \"now\", \"today\",\n"
	"                 \"yesterday\", a time back from now such as -1h, -30min, -2d\n"
	"                 (or \"2d ago\"; units s, min, h, d, w), a local date and time\n"
	"                 \"2026-12-01\", \"2026-12-01 09:30\", \"2026-12-01T09:30:15\",\n"
	"                 or @SECONDS since the epoch\n"
	"  --json         one JSON object a line, with every field and the journal's\n"
	"                 own record of who wrote the entry (writer_uid, writer_exe)\n"
	"\n"
	"Exit status: 0 shown (even none), 1 failed, 2 usage error, 3 no journal\n"
	"on this host (the module then logs to syslog).\n";

#define DEFAULT_SINCE "-24h"

/* A unit of a relative time, as journalctl spells the short ones. */
static long long unit_seconds(const char *unit)
{
	static const struct {
		const char *name;
		long long seconds;
	} units[] = { { "s", 1 },      { "sec", 1 },       { "m", 60 },     { "min", 60 },
		      { "h", 3600 },   { "d", 86400 },     { "w", 604800 } };

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(unit, units[i].name) == 0)
			return units[i].seconds;
	return -1;
}

/* Up to max digits at *p into *n, moving *p past them; how many there were. */
static int digits(const char **p, int max, long long *n)
{
	int count = 0;

	*n = 0;
	for (; count < max && **p >= '0' && **p <= '9'; (*p)++, count++)
		*n = *n * 10 + (**p - '0');
	return count;
}

/* "-1h", "90min ago": seconds back from now into *back. */
static bool parse_relative(const char *text, long long *back)
{
	bool minus = text[0] == '-';
	const char *p = text + (minus ? 1 : 0);
	char unit[8] = "";
	size_t unit_len;
	long long n = 0;
	long long per;

	if (digits(&p, 9, &n) == 0)
		return false;
	unit_len = strspn(p, "abcdefghijklmnopqrstuvwxyz");
	if (unit_len == 0 || unit_len >= sizeof unit)
		return false;
	memcpy(unit, p, unit_len);
	p += unit_len;
	per = unit_seconds(unit);
	if (per < 0 || strcmp(p, minus ? "" : " ago") != 0)
		return false;
	*back = n * per;
	return true;
}

/* Exactly count digits at *p into *n. */
static bool exactly(const char **p, int count, long long *n)
{
	return digits(p, count, n) == count;
}

/* "2026-12-01", "2026-12-01 09:30", "2026-12-01T09:30:15", local time. */
static bool parse_date(const char *text, time_t *out)
{
	const char *p = text;
	long long year, month, day, hour = 0, minute = 0, second = 0;
	struct tm tm;

	if (!exactly(&p, 4, &year) || *p++ != '-' || !exactly(&p, 2, &month) || *p++ != '-' ||
	    !exactly(&p, 2, &day))
		return false;
	if (*p == ' ' || *p == 'T') {
		p++;
		if (!exactly(&p, 2, &hour) || *p++ != ':' || !exactly(&p, 2, &minute))
			return false;
		if (*p == ':') {
			p++;
			if (!exactly(&p, 2, &second))
				return false;
		}
	}
	if (*p != '\0' || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
	    minute > 59 || second > 60)
		return false;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = (int)year - 1900;
	tm.tm_mon = (int)month - 1;
	tm.tm_mday = (int)day;
	tm.tm_hour = (int)hour;
	tm.tm_min = (int)minute;
	tm.tm_sec = (int)second;
	tm.tm_isdst = -1;
	*out = mktime(&tm);
	return *out != (time_t)-1;
}

/* Local midnight, days_back days before today. */
static time_t midnight(time_t now, int days_back)
{
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_hour = 0;
	tm.tm_min = 0;
	tm.tm_sec = 0;
	tm.tm_mday -= days_back;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* TIME of --since into seconds since the epoch; false when it is none of the forms. */
static bool parse_since(const char *text, time_t now, time_t *out)
{
	long long back = 0;
	char *end = NULL;

	if (strcmp(text, "now") == 0)
		*out = now;
	else if (strcmp(text, "today") == 0)
		*out = midnight(now, 0);
	else if (strcmp(text, "yesterday") == 0)
		*out = midnight(now, 1);
	else if (text[0] == '@' && text[1] >= '0' && text[1] <= '9')
		*out = (time_t)strtoll(text + 1, &end, 10);
	else if (parse_relative(text, &back))
		*out = now - (time_t)back;
	else
		return parse_date(text, out);
	return end == NULL || *end == '\0';
}

/* ---- output ---- */

#define ROW_FORMAT "%-24s %-12s %-16s %-10s %-15s %-15s %-11s %7s %s\n"

static const char *value(const struct np_ctl_event *ev, enum np_event_field f)
{
	return ev->values[f];
}

/* Seconds with one decimal, "-" when the event has no wait. */
static const char *wait_text(const struct np_ctl_event *ev, char *buf, size_t buf_size)
{
	const char *ms = value(ev, NP_EV_WAIT_MS);
	char *end = NULL;
	long long n = strtoll(ms, &end, 10);

	if (ms[0] == '\0' || end == NULL || *end != '\0' || n < 0)
		snprintf(buf, buf_size, "-");
	else
		snprintf(buf, buf_size, "%lld.%llds", n / 1000, n % 1000 / 100);
	return buf;
}

static void print_row(const struct np_ctl_event *ev)
{
	char cols[8][NP_CTL_VALUE_MAX];
	char when[40];
	char wait[32];
	char reference[NP_REFERENCE_LEN + 1];
	const char *source = value(ev, NP_EV_RHOST)[0] != '\0' ? value(ev, NP_EV_RHOST)
	                                                        : value(ev, NP_EV_TTY);

	np_signin_reference(value(ev, NP_EV_SIGNIN_ID), reference);
	printf(ROW_FORMAT, np_ctl_time_text((int64_t)(ev->usec / 1000000), when, sizeof when),
	       np_ctl_column(value(ev, NP_EV_ACCOUNT), cols[0], sizeof cols[0]),
	       np_ctl_column(value(ev, NP_EV_USER_ID), cols[1], sizeof cols[1]),
	       np_ctl_column(value(ev, NP_EV_SERVICE), cols[2], sizeof cols[2]),
	       np_ctl_column(source, cols[3], sizeof cols[3]),
	       np_ctl_column(value(ev, NP_EV_METHOD), cols[4], sizeof cols[4]),
	       np_ctl_column(value(ev, NP_EV_RESULT), cols[5], sizeof cols[5]),
	       wait_text(ev, wait, sizeof wait), np_ctl_column(reference, cols[6], sizeof cols[6]));
}

/* A string member, sanitised (a JSON string must be UTF-8); "" stays "". */
static void add_text(json_object *o, const char *key, const char *text)
{
	char clean[NP_CTL_VALUE_MAX];

	np_sanitize_str(clean, sizeof clean, text);
	json_object_object_add(o, key, json_object_new_string(clean));
}

static void print_json(const struct np_ctl_event *ev)
{
	static const struct {
		const char *key;
		enum np_event_field field;
	} members[] = {
		{ "account", NP_EV_ACCOUNT },     { "nextpay_id", NP_EV_USER_ID },
		{ "service", NP_EV_SERVICE },     { "rhost", NP_EV_RHOST },
		{ "tty", NP_EV_TTY },             { "method", NP_EV_METHOD },
		{ "result", NP_EV_RESULT },       { "reason", NP_EV_REASON },
		{ "signin_id", NP_EV_SIGNIN_ID }, { "invoker_uid", NP_EV_INVOKER_UID },
	};
	json_object *o = json_object_new_object();
	char when[40];
	char reference[NP_REFERENCE_LEN + 1];
	const char *wait = value(ev, NP_EV_WAIT_MS);

	add_text(o, "time", np_ctl_time_text((int64_t)(ev->usec / 1000000), when, sizeof when));
	json_object_object_add(o, "timestamp_usec", json_object_new_int64((int64_t)ev->usec));
	for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
		add_text(o, members[i].key, value(ev, members[i].field));
	json_object_object_add(o, "wait_ms",
	                       wait[0] != '\0' ? json_object_new_int64(strtoll(wait, NULL, 10))
	                                       : NULL);
	np_signin_reference(value(ev, NP_EV_SIGNIN_ID), reference);
	add_text(o, "reference", reference);
	add_text(o, "writer_uid", ev->writer_uid);
	add_text(o, "writer_exe", ev->writer_exe);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int show(time_t since, bool as_json)
{
	struct np_ctl_journal r;
	struct np_ctl_event *ev = malloc(sizeof *ev);
	char when[40];
	unsigned shown = 0;
	int rc;

	if (ev == NULL)
		return np_ctl_fail("out of memory");
	rc = np_ctl_journal_open(&r, "signin", (uint64_t)since * 1000000, false);
	if (rc != NP_CTL_EXIT_OK) {
		free(ev);
		return rc;
	}
	while ((rc = np_ctl_journal_next(&r, ev)) > 0) {
		if (!as_json && shown == 0)
			printf(ROW_FORMAT, "TIME", "ACCOUNT", "NEXTPAY-ID", "SERVICE", "SOURCE", "METHOD",
			       "RESULT", "WAIT", "REFERENCE");
		if (as_json)
			print_json(ev);
		else
			print_row(ev);
		shown++;
	}
	np_ctl_journal_close(&r);
	free(ev);
	if (rc < 0)
		return np_ctl_fail("cannot read the journal: %s", strerror(-rc));
	if (!as_json)
		printf("%u sign-in%s since %s.\n", shown, shown == 1 ? "" : "s",
		       np_ctl_time_text((int64_t)since, when, sizeof when));
	return NP_CTL_EXIT_OK;
}

int np_ctl_log(int argc, char **argv)
{
	const char *since_opt = NULL;
	const struct np_ctl_option opts[] = { { "--since", &since_opt } };
	const struct np_ctl_syntax syntax = { log_help, opts, 1, NULL, 0 };
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	bool as_json = false;
	size_t n_operands = 0;
	time_t since = 0;
	int n = 0;
	int parsed;

	if (rest == NULL)
		return np_ctl_fail("out of memory");
	/* --json is a flag; every other word goes to the common parser. */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				rest[n++] = argv[i++];
			break;
		}
		if (i > 0 && strcmp(argv[i], "--json") == 0)
			as_json = true;
		else
			rest[n++] = argv[i];
	}
	parsed = np_ctl_parse_args(n, rest, &syntax, &n_operands);
	free(rest);
	if (parsed >= 0)
		return parsed;
	if (!parse_since(since_opt != NULL ? since_opt : DEFAULT_SINCE, time(NULL), &since))
		return np_ctl_usage_error("log", "--since: cannot read \"%.64s\" as a time (see --help)",
		                          since_opt);
	return show(since, as_json);
}
