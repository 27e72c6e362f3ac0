/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl metrics: the module's events of this boot, counted from the
 * journal, in Prometheus' text exposition format (version 0.0.4), for
 * node_exporter's textfile collector.  Counters start at the boot, as a
 * process's own counters would; rate() and increase() read a restart as such.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sanitize.h"
#include "ctl/ctl.h"

static const char metrics_help[] =
	"Usage: " NP_CTL_PROGRAM " metrics\n"
	"\n"
	"Prints what the module logged to the systemd journal since this boot, in\n"
	"Prometheus' text exposition format, for node_exporter's textfile collector:\n"
	"sign-ins by result, method and service, the approval wait as a histogram,\n"
	"cache hits, refused cache entries by cause, helper failures, configuration\n"
	"errors, refused verification hosts and PAM_USER changes.  Write it to a\n"
	"file atomically (a temporary file, then mv), as the example timer does.\n"
	"\n"
	"Exit status: 0 printed, 1 failed, 2 usage error, 3 no journal on this host\n"
	"(the module then logs to syslog).\n";

/* Label values kept apart at most; more (forged entries, say) are counted as "other". */
#define SERIES_MAX 200
#define LABEL_MAX 64

/* The approval wait's buckets, in seconds: login_timeout is 110 by default. */
static const double wait_buckets[] = { 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300 };
#define N_BUCKETS (sizeof wait_buckets / sizeof wait_buckets[0])

/* One series of a counter or of the histogram: its labels, its count. */
struct series {
	char labels[3][LABEL_MAX];
	unsigned long long count;
	unsigned long long buckets[N_BUCKETS];
	double sum;
};

struct family {
	struct series *s;
	size_t n;
};

struct tally {
	struct family signins;      /* result, method, service */
	struct family waits;        /* result */
	struct family refused;      /* cause */
	unsigned long long cache_hits;
	unsigned long long by_kind[NP_EVENT_KIND_COUNT];
};

/* Prometheus' escaping of a label value, after sanitising (UTF-8, no controls). */
static void label_value(char *out, size_t out_size, const char *value)
{
	char clean[LABEL_MAX];
	size_t o = 0;

	np_sanitize_str(clean, sizeof clean, value);
	for (const char *p = clean; *p != '\0' && o + 3 < out_size; p++) {
		if (*p == '\\' || *p == '"')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* The series of f with exactly these labels, or NULL. */
static struct series *lookup(struct family *f, char labels[3][LABEL_MAX])
{
	for (size_t i = 0; i < f->n; i++)
		if (memcmp(f->s[i].labels, labels, sizeof f->s[i].labels) == 0)
			return &f->s[i];
	return NULL;
}

/* The series of f with these labels, made if new; "other" once SERIES_MAX are in use. */
static struct series *find(struct family *f, const char *a, const char *b, const char *c)
{
	const char *want[3] = { a, b, c };
	char labels[3][LABEL_MAX];
	struct series *found;
	struct series *grown;

	/* Whole arrays are compared: nothing may differ past the strings' ends. */
	memset(labels, 0, sizeof labels);
	for (int i = 0; i < 3; i++)
		label_value(labels[i], sizeof labels[i], want[i] != NULL ? want[i] : "");
	found = lookup(f, labels);
	if (found != NULL)
		return found;
	/* One more series, "other" in every label used, takes whatever comes past the limit. */
	if (f->n >= SERIES_MAX) {
		memset(labels, 0, sizeof labels);
		for (int i = 0; i < 3; i++)
			snprintf(labels[i], sizeof labels[i], "%s", want[i] != NULL ? "other" : "");
		found = lookup(f, labels);
		if (found != NULL)
			return found;
	}
	grown = realloc(f->s, (f->n + 1) * sizeof *f->s);
	if (grown == NULL)
		return NULL;
	f->s = grown;
	memset(&f->s[f->n], 0, sizeof f->s[f->n]);
	memcpy(f->s[f->n].labels, labels, sizeof labels);
	return &f->s[f->n++];
}

static void count_signin(struct tally *t, const struct np_ctl_event *ev)
{
	const char *result = ev->values[NP_EV_RESULT];
	const char *method = ev->values[NP_EV_METHOD];
	const char *wait = ev->values[NP_EV_WAIT_MS];
	struct series *s = find(&t->signins, result, method, ev->values[NP_EV_SERVICE]);
	double seconds;

	if (s != NULL)
		s->count++;
	if (strcmp(result, "success") == 0 && strcmp(method, NP_METHOD_CACHED_APPROVAL) == 0)
		t->cache_hits++;
	if (wait[0] == '\0' || strcmp(method, NP_METHOD_DEVICE_CODE) != 0)
		return;
	seconds = strtod(wait, NULL) / 1000.0;
	s = find(&t->waits, result, NULL, NULL);
	if (s == NULL || seconds < 0)
		return;
	s->count++;
	s->sum += seconds;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= wait_buckets[i])
			s->buckets[i]++;
}

static void count(struct tally *t, const struct np_ctl_event *ev)
{
	struct series *s;

	if ((size_t)ev->type->kind < sizeof t->by_kind / sizeof t->by_kind[0])
		t->by_kind[ev->type->kind]++;
	if (ev->type->kind == NP_EVENT_SIGNIN) {
		count_signin(t, ev);
	} else if (ev->type->kind == NP_EVENT_CACHE_REFUSED) {
		s = find(&t->refused, ev->values[NP_EV_REASON], NULL, NULL);
		if (s != NULL)
			s->count++;
	}
}

static void header(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void print_histogram(const struct family *waits)
{
	const char *name = "nextpay_approval_wait_seconds";

	header(name, "histogram",
	       "Time from a device code's arrival to the verdict, by result, this boot.");
	for (size_t i = 0; i < waits->n; i++) {
		const struct series *s = &waits->s[i];

		for (size_t b = 0; b < N_BUCKETS; b++)
			printf("%s_bucket{result=\"%s\",le=\"%g\"} %llu\n", name, s->labels[0],
			       wait_buckets[b], s->buckets[b]);
		printf("%s_bucket{result=\"%s\",le=\"+Inf\"} %llu\n", name, s->labels[0], s->count);
		printf("%s_sum{result=\"%s\"} %.3f\n", name, s->labels[0], s->sum);
		printf("%s_count{result=\"%s\"} %llu\n", name, s->labels[0], s->count);
	}
}

static void print_counter(const char *name, const char *help, unsigned long long n)
{
	header(name, "counter", help);
	printf("%s %llu\n", name, n);
}

static void print_tally(const struct tally *t)
{
	header("nextpay_signins_total", "counter",
	       "Sign-ins by result, method and PAM service, this boot.");
	for (size_t i = 0; i < t->signins.n; i++)
		printf("nextpay_signins_total{result=\"%s\",method=\"%s\",service=\"%s\"} %llu\n",
		       t->signins.s[i].labels[0], t->signins.s[i].labels[1],
		       t->signins.s[i].labels[2], t->signins.s[i].count);
	print_histogram(&t->waits);
	print_counter("nextpay_cache_hits_total",
	              "Sign-ins approved from the approval cache, this boot.", t->cache_hits);
	header("nextpay_cache_refused_total", "counter",
	       "Cache entries found but not used (and removed), by cause, this boot.");
	for (size_t i = 0; i < t->refused.n; i++)
		printf("nextpay_cache_refused_total{cause=\"%s\"} %llu\n", t->refused.s[i].labels[0],
		       t->refused.s[i].count);
	print_counter("nextpay_helper_failures_total",
	              "Helpers that died, broke the protocol or stopped answering, this boot.",
	              t->by_kind[NP_EVENT_HELPER_FAILED]);
	print_counter("nextpay_config_errors_total",
	              "Sign-ins that found the settings, map or helper unusable, this boot.",
	              t->by_kind[NP_EVENT_CONFIG_ERROR]);
	print_counter("nextpay_verification_hosts_refused_total",
	              "Verification URLs for a host verification_hosts does not name, this boot.",
	              t->by_kind[NP_EVENT_HOST_REFUSED]);
	print_counter("nextpay_pam_user_changed_total",
	              "Sign-ins refused because PAM_USER changed during them, this boot.",
	              t->by_kind[NP_EVENT_USER_CHANGED]);
	print_counter("nextpay_breakglass_opened_total",
	              "Break-glass gates opened during an outage of NextPay, this boot.",
	              t->by_kind[NP_EVENT_BREAKGLASS_OPENED]);
	print_counter("nextpay_breakglass_refused_total",
	              "Break-glass gates asked and kept shut, this boot.",
	              t->by_kind[NP_EVENT_BREAKGLASS_REFUSED]);
}

static int collect(struct tally *t)
{
	struct np_ctl_journal r;
	struct np_ctl_event *ev = malloc(sizeof *ev);
	int rc;

	if (ev == NULL)
		return np_ctl_fail("out of memory");
	rc = np_ctl_journal_open(&r, NULL, 0, true);
	if (rc != NP_CTL_EXIT_OK) {
		free(ev);
		return rc;
	}
	while ((rc = np_ctl_journal_next(&r, ev)) > 0)
		count(t, ev);
	np_ctl_journal_close(&r);
	free(ev);
	if (rc < 0)
		return np_ctl_fail("cannot read the journal: %s", strerror(-rc));
	return NP_CTL_EXIT_OK;
}

int np_ctl_metrics(int argc, char **argv)
{
	const struct np_ctl_syntax syntax = { metrics_help, NULL, 0, NULL, 0 };
	struct tally t;
	size_t n_operands = 0;
	int rc = np_ctl_parse_args(argc, argv, &syntax, &n_operands);

	if (rc >= 0)
		return rc;
	memset(&t, 0, sizeof t);
	rc = collect(&t);
	if (rc == NP_CTL_EXIT_OK)
		print_tally(&t);
	free(t.signins.s);
	free(t.waits.s);
	free(t.refused.s);
	if (rc == NP_CTL_EXIT_OK && fflush(stdout) != 0)
		return np_ctl_fail("cannot write the metrics");
	return rc;
}
