/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpay-helper: the only process that talks to the network.
 *
 * The PAM module starts it with an empty environment and pipes on stdin and
 * stdout (see protocol.h).  It reads the CA bundle while it may still be root,
 * then becomes helper_user for good, without a capability left, before
 * libcurl is even initialised; once libcurl is set up it enters its system
 * call filter, and from then on only answers the module's requests.
 */
#include <curl/curl.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/safe_file.h"
#include "helper/flow.h"
#include "helper/privdrop.h"
#include "helper/sandbox.h"

#define CONFIG_WAIT_MS 10000
#define CA_FILE_MAX (1024 * 1024)

/* No core files and no ptrace by other processes of helper_user: tokens live here. */
static void harden_process(void)
{
	struct rlimit none = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Started through fexecve, the kernel would name us after a descriptor number. */
	(void)prctl(PR_SET_NAME, "nextpay-helper", 0, 0, 0);
	/* Started by hand, the helper must not inherit proxy or TLS key-log settings either. */
	(void)clearenv();
	umask(077);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Whether NextPay answers in time must not depend on whoever runs sudo or
 * su: their resource limits (a thread or memory it cannot get), nice value
 * or scheduling policy would make a request fail or time out, which the
 * module takes for NextPay being unreachable, and a break-glass stack then
 * asks for a password.  Only root may raise them (the hard limits only
 * with CAP_SYS_RESOURCE); started by anyone else, the helper has no more
 * than its caller anyway.
 */
static void own_limits(void)
{
	static const struct {
		int resource;
		rlim_t value;
	} limits[] = {
		{ RLIMIT_NOFILE, 1024 },     { RLIMIT_NPROC, RLIM_INFINITY },
		{ RLIMIT_AS, RLIM_INFINITY }, { RLIMIT_DATA, RLIM_INFINITY },
		{ RLIMIT_RSS, RLIM_INFINITY }, { RLIMIT_STACK, 8 * 1024 * 1024 },
		{ RLIMIT_CPU, RLIM_INFINITY },
	};
	const struct sched_param other = { .sched_priority = 0 };

	if (geteuid() != 0)
		return;
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		const struct rlimit own = { limits[i].value, limits[i].value };
		struct rlimit now;

		/* Without CAP_SYS_RESOURCE (root in many containers) only the soft limit can rise. */
		if (setrlimit(limits[i].resource, &own) != 0 &&
		    getrlimit(limits[i].resource, &now) == 0) {
			now.rlim_cur = now.rlim_max;
			(void)setrlimit(limits[i].resource, &now);
		}
	}
	(void)setpriority(PRIO_PROCESS, 0, 0);
	(void)sched_setscheduler(0, SCHED_OTHER, &other);
}

static int read_request(struct np_flow *f, int timeout_ms, struct np_msg *m)
{
	char err[128];
	size_t len = 0;
	int rc = -1;

	if (np_line_read(&f->from_module, timeout_ms, f->line, sizeof f->line, &len) == NP_LINE_OK)
		rc = np_msg_decode(f->line, len, m, err, sizeof err);
	sodium_memzero(f->line, sizeof f->line);
	return rc;
}

/* Reads the CA bundle (as root, if we are), drops privileges, prepares libcurl, seals itself. */
static int set_up(struct np_flow *f, const struct np_msg_config *cfg)
{
	char err[512] = "";
	char *ca_pem = NULL;
	size_t ca_len = 0;
	int rc = -1;

	if (cfg->ca_file[0] != '\0' &&
	    np_file_read(cfg->ca_file, 0, CA_FILE_MAX, &ca_pem, &ca_len, err, sizeof err) !=
	        NP_FILE_OK) {
		np_flow_fail(f, NP_FAIL_CONFIG, err);
		goto out;
	}
	if (np_drop_privileges(cfg->helper_user, err, sizeof err) != 0) {
		np_flow_fail(f, NP_FAIL_CONFIG, err);
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		np_flow_fail(f, NP_FAIL_INTERNAL, "cannot set no_new_privs");
		goto out;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		np_flow_fail(f, NP_FAIL_INTERNAL, "library initialisation failed");
		goto out;
	}
	if (np_http_init(&f->http, cfg, ca_pem, ca_len, err, sizeof err) != 0) {
		np_flow_fail(f, NP_FAIL_CONFIG, err);
		goto out;
	}
	/* A kernel without seccomp filters: this host cannot run the helper as built. */
	if (np_sandbox_enter(err, sizeof err) != 0) {
		np_flow_fail(f, NP_FAIL_CONFIG, err);
		goto out;
	}
	rc = 0;
out:
	free(ca_pem);
	return rc;
}

static int serve(struct np_flow *f, struct np_msg *req)
{
	for (;;) {
		int rc;

		np_msg_wipe(req);
		if (read_request(f, -1, req) != 0)
			return 0; /* the module closed its end, or broke the protocol */
		switch (req->type) {
		case NP_MSG_DEVICE_LOGIN:
			rc = np_flow_device_login(f, &req->login);
			break;
		case NP_MSG_WHOAMI:
			rc = np_flow_whoami(f, req->token);
			break;
		case NP_MSG_API_KEY:
			rc = np_flow_api_key(f, req->api_key);
			break;
		case NP_MSG_PROBE:
			rc = np_flow_probe(f);
			break;
		case NP_MSG_POLL_NOW:
			/* A late Enter after the flow ended: nothing is pending any more. */
			rc = 0;
			break;
		default:
			rc = np_flow_fail(f, NP_FAIL_INTERNAL, "unexpected request");
			break;
		}
		if (rc != 0)
			return 1;
	}
}

int main(int argc, char **argv)
{
	struct np_flow *f = NULL;
	struct np_msg *req = NULL;
	int status = 1;

	(void)argv;
	harden_process();
	own_limits();
	if (argc != 1 || isatty(STDIN_FILENO)) {
		fprintf(stderr, "nextpay-helper is started by pam_nextpay.so and nextpayctl only.\n");
		return 2;
	}
	f = calloc(1, sizeof *f);
	req = calloc(1, sizeof *req);
	if (f == NULL || req == NULL)
		goto out;
	f->to_module = STDOUT_FILENO;
	np_line_reader_init(&f->from_module, STDIN_FILENO);
	if (read_request(f, CONFIG_WAIT_MS, req) != 0 || req->type != NP_MSG_CONFIG)
		goto out;
	if (set_up(f, &req->config) != 0)
		goto out;
	np_msg_init(&f->out, NP_MSG_READY);
	if (np_flow_emit(f, &f->out) != 0)
		goto out;
	status = serve(f, req);
out:
	if (f != NULL) {
		np_http_cleanup(&f->http);
		np_line_reader_wipe(&f->from_module);
		sodium_memzero(f, sizeof *f);
	}
	if (req != NULL)
		sodium_memzero(req, sizeof *req);
	free(f);
	free(req);
	return status;
}
