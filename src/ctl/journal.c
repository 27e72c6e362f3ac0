/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading the module's events back from the journal, for nextpayctl log and
 * metrics: the entries of SYSLOG_IDENTIFIER pam_nextpay with a NEXTPAY_EVENT,
 * through libsystemd's sd_journal API, by the names of common/events.h.
 *
 * Any local user can write journal entries with these fields; journald's own
 * fields (_UID, _EXE) say who wrote each, and --json shows them.
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "ctl/ctl.h"

/* The journal's own directories: with no file in either, there is no journal to read. */
#define NO_JOURNAL_WORDS \
	"no systemd journal on this host (nothing in /run/log/journal or /var/log/journal): " \
	"with journald not running the module logs to syslog, see the log setting"

/* The value of field in the current entry, "" when it has none, cut to fit. */
static void entry_value(sd_journal *j, const char *field, char *out, size_t out_size)
{
	const void *data = NULL;
	size_t len = 0;
	size_t prefix = strlen(field) + 1;

	out[0] = '\0';
	if (sd_journal_get_data(j, field, &data, &len) < 0 || len < prefix)
		return;
	len -= prefix;
	if (len >= out_size)
		len = out_size - 1;
	memcpy(out, (const char *)data + prefix, len);
	out[len] = '\0';
}

static void read_entry(sd_journal *j, struct np_ctl_event *ev)
{
	char result[32];
	char kind[32];

	memset(ev, 0, sizeof *ev);
	if (sd_journal_get_realtime_usec(j, &ev->usec) < 0)
		ev->usec = 0;
	entry_value(j, NP_EVENT_KIND_FIELD, kind, sizeof kind);
	entry_value(j, np_event_field_name(NP_EV_RESULT), result, sizeof result);
	ev->type = np_event_type_named(kind, result);
	for (int f = 0; f < NP_EV_COUNT; f++)
		entry_value(j, np_event_field_name((enum np_event_field)f), ev->values[f],
		            sizeof ev->values[f]);
	entry_value(j, "_UID", ev->writer_uid, sizeof ev->writer_uid);
	entry_value(j, "_EXE", ev->writer_exe, sizeof ev->writer_exe);
}

/* Whether the journal holds any file this process may read. */
static bool journal_found(sd_journal *j)
{
	uint64_t bytes = 0;

	return sd_journal_get_usage(j, &bytes) >= 0 && bytes > 0;
}

int np_ctl_journal_open(struct np_ctl_journal *r, const char *kind, uint64_t since_usec,
                        bool this_boot)
{
	char match[64];
	sd_id128_t boot;
	int rc;

	memset(r, 0, sizeof *r);
	rc = sd_journal_open(&r->j, SD_JOURNAL_LOCAL_ONLY);
	if (rc < 0 || !journal_found(r->j)) {
		np_ctl_journal_close(r);
		if (rc < 0)
			np_ctl_fail("cannot open the journal: %s", strerror(-rc));
		else
			np_ctl_fail(NO_JOURNAL_WORDS);
		return NP_CTL_EXIT_NO_JOURNAL;
	}
	if (geteuid() != 0)
		fprintf(stderr, NP_CTL_PROGRAM ": not root: only the journal files this user may "
		                "read were searched (the module's events are in the system journal)\n");
	snprintf(match, sizeof match, "SYSLOG_IDENTIFIER=%s", NP_EVENT_IDENTIFIER);
	rc = sd_journal_add_match(r->j, match, 0);
	if (rc >= 0 && kind != NULL) {
		snprintf(match, sizeof match, NP_EVENT_KIND_FIELD "=%s", kind);
		rc = sd_journal_add_match(r->j, match, 0);
	}
	if (rc >= 0 && this_boot && (rc = sd_id128_get_boot(&boot)) >= 0) {
		char id[SD_ID128_STRING_MAX];

		snprintf(match, sizeof match, "_BOOT_ID=%s", sd_id128_to_string(boot, id));
		rc = sd_journal_add_match(r->j, match, 0);
	}
	if (rc >= 0)
		rc = since_usec > 0 ? sd_journal_seek_realtime_usec(r->j, since_usec)
		                    : sd_journal_seek_head(r->j);
	if (rc < 0) {
		np_ctl_journal_close(r);
		return np_ctl_fail("cannot search the journal: %s", strerror(-rc));
	}
	return NP_CTL_EXIT_OK;
}

int np_ctl_journal_next(struct np_ctl_journal *r, struct np_ctl_event *ev)
{
	for (;;) {
		int rc = sd_journal_next(r->j);

		if (rc <= 0)
			return rc;
		read_entry(r->j, ev);
		/* An entry with our identifier but no kind we know is not ours to count. */
		if (ev->type != NULL)
			return 1;
	}
}

void np_ctl_journal_close(struct np_ctl_journal *r)
{
	if (r->j != NULL)
		sd_journal_close(r->j);
	r->j = NULL;
}
