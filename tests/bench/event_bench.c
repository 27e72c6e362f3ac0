/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * For make bench (tests/bench/bench.py, row 6): what a sign-in's event costs in
 * the journal next to today's syslog line.  Sends the outcome event of a
 * sign-in, as the module builds it (common/events.c), N times to the journal
 * (np_event_send_journal) and N times as the syslog line pam_syslog() writes
 * (syslog(3), facility authpriv), in blocks that take turns, and prints one line
 * per call: "journal|syslog WALL_NS CPU_NS", then per block the receiver's CPU
 * ticks: "block journal|syslog N TICKS" (journald's pid is the second argument).
 * Run where /dev/log and the journal's socket lead to that journald.
 *
 *   event-bench N JOURNALD_PID
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/events.h"

#define BLOCKS 4

static long long ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* utime + stime of pid, in clock ticks, or -1. */
static long long cpu_ticks(const char *pid)
{
	char path[64], text[4096];
	unsigned long long utime = 0, stime = 0;
	const char *p;
	FILE *f;
	size_t len;

	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	len = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[len] = '\0';
	p = strrchr(text, ')');
	/* After ") state": fields 4 to 13 of stat(5), then utime and stime. */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	                        &utime, &stime) != 2)
		return -1;
	return (long long)(utime + stime);
}

int main(int argc, char **argv)
{
	char line[1024];
	char reference[NP_REFERENCE_LEN + 1];
	char id[NP_SIGNIN_ID_LEN + 1];
	struct np_event ev;
	int n = argc == 3 ? atoi(argv[1]) : 0;

	if (n <= 0) {
		fprintf(stderr, "usage: event-bench N JOURNALD_PID\n");
		return 2;
	}
	memset(&ev, 0, sizeof ev);
	np_signin_id_new(id);
	np_signin_reference(id, ev.reference);
	snprintf(reference, sizeof reference, "%s", ev.reference);
	ev.type = np_event_type_of(NP_EVENT_SIGNIN, "success");
	ev.priority = ev.type->priority;
	ev.origin = "pam_nextpay(sshd:auth)";
	ev.values[NP_EV_SIGNIN_ID] = id;
	ev.values[NP_EV_RESULT] = "success";
	ev.values[NP_EV_METHOD] = "device-code";
	ev.values[NP_EV_ACCOUNT] = "don";
	ev.values[NP_EV_USER_ID] = "usr_abc123";
	ev.values[NP_EV_SERVICE] = "sshd";
	ev.values[NP_EV_RHOST] = "203.0.113.7";
	ev.values[NP_EV_TTY] = "ssh";
	ev.values[NP_EV_INVOKER_UID] = "0";
	ev.values[NP_EV_WAIT_MS] = "8120";
	ev.values[NP_EV_REASON] = "user id rule";
	np_event_signin_line(&ev, line, sizeof line);
	ev.line = line;
	for (int block = 0; block < 2 * BLOCKS; block++) {
		bool journal = block % 2 == 0;
		long long ticks = cpu_ticks(argv[2]);

		for (int i = 0; i < n / BLOCKS; i++) {
			long long wall = ns(CLOCK_MONOTONIC), cpu = ns(CLOCK_THREAD_CPUTIME_ID);

			if (journal && np_event_send_journal(&ev) != 0) {
				fprintf(stderr, "the journal refused an event\n");
				return 1;
			}
			if (!journal)
				syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s: %s reference=\"%s\"", ev.origin, line,
				       reference);
			printf("%s %lld %lld\n", journal ? "journal" : "syslog",
			       ns(CLOCK_MONOTONIC) - wall, ns(CLOCK_THREAD_CPUTIME_ID) - cpu);
		}
		/* Until the receiver has read them all: its CPU is part of the cost. */
		struct timespec pause = { 0, 200000000 };
		nanosleep(&pause, NULL);
		printf("block %s %d %lld\n", journal ? "journal" : "syslog", n / BLOCKS,
		       cpu_ticks(argv[2]) - ticks);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
