/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/client.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/clock.h"
#include "common/qr.h"
#include "common/sanitize.h"
#include "common/validate.h"

/* How long a helper may take to read its settings, drop root and say ready. */
#define READY_TIMEOUT_MS 10000
/* The margin of one API call over request_timeout: pipes and the scheduler. */
#define CALL_MARGIN_MS 2000
/* How often a wait that can be interrupted looks: short enough that nobody notices. */
#define INTERRUPT_CHECK_MS 100
/* A wait never longer than this in one piece. */
#define WAIT_MAX_MS 3600000

#define EXPIRED_WORDS "The code expired before it was approved. Please try again."
#define NOT_SET_UP_WORDS \
	"NextPay sign-in is not set up correctly on this host. Please contact your administrator."
#define NOT_REACHED_WORDS "NextPay could not be reached. Please try again later."
#define CHECK_FINDS " (\"nextpayctl check\" finds such problems)"

void np_client_init(struct np_client *c, const struct np_config *cfg,
                    const struct np_client_io *io)
{
	memset(c, 0, sizeof *c);
	c->cfg = cfg;
	c->io = io;
	np_helper_init(&c->helper);
}

long long np_client_ms_left(const struct np_client *c)
{
	long long left = c->deadline_ms - np_monotonic_ms();

	return left > 0 ? left : 0;
}

long long np_client_call_limit_ms(const struct np_client *c)
{
	return (long long)c->cfg->request_timeout * 1000 + CALL_MARGIN_MS;
}

int np_client_wait_ms(const struct np_client *c, long long limit_ms)
{
	long long left = np_client_ms_left(c);

	if (limit_ms >= 0 && limit_ms < left)
		left = limit_ms;
	return left > WAIT_MAX_MS ? WAIT_MAX_MS : (int)left;
}

static void client_log(const struct np_client *c, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_log(const struct np_client *c, int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (c->io->log == NULL)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started just above */
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->io->log(c->io->ctx, priority, line);
}

static int show(const struct np_client *c, const char *text)
{
	return c->io->show(c->io->ctx, text);
}

/* ---- talking to the helper ---- */

/*
 * One message from the helper into c->msg, in slices when something may
 * interrupt the wait (then *interrupted says so, with NP_RECV_TIMEOUT).
 */
static enum np_helper_recv_status receive(struct np_client *c, int timeout_ms,
                                          bool *interrupted)
{
	long long until = np_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	enum np_helper_recv_status status;

	*interrupted = false;
	for (;;) {
		long long left = until - np_monotonic_ms();
		int slice = left > 0 ? (int)left : 0;

		if (c->io->interrupted != NULL) {
			if (c->io->interrupted(c->io->ctx)) {
				*interrupted = true;
				return NP_RECV_TIMEOUT;
			}
			if (slice > INTERRUPT_CHECK_MS)
				slice = INTERRUPT_CHECK_MS;
		}
		np_msg_wipe(&c->msg);
		status = np_helper_recv(&c->helper, slice, &c->msg, c->err, sizeof c->err);
		if (status != NP_RECV_TIMEOUT || np_monotonic_ms() >= until)
			return status;
	}
}

/* What np_helper_recv() brought, as a status: failures and surprises end the wait. */
static enum np_client_status judge(struct np_client *c, enum np_helper_recv_status status,
                                   enum np_msg_type want1, enum np_msg_type want2)
{
	if (status == NP_RECV_TIMEOUT) {
		snprintf(c->err, sizeof c->err, "no answer from the helper in time");
		return np_client_ms_left(c) == 0 ? NP_CLIENT_EXPIRED : NP_CLIENT_SILENT;
	}
	if (status == NP_RECV_BROKEN)
		return NP_CLIENT_BROKEN;
	if (status != NP_RECV_OK)
		return NP_CLIENT_GONE;
	if (c->msg.type == NP_MSG_FAILURE)
		return NP_CLIENT_FAILED;
	if (c->msg.type != want1 && c->msg.type != want2) {
		snprintf(c->err, sizeof c->err, "the helper sent an unexpected message");
		return NP_CLIENT_UNEXPECTED;
	}
	return NP_CLIENT_OK;
}

enum np_client_status np_client_expect(struct np_client *c, int timeout_ms,
                                       enum np_msg_type want1, enum np_msg_type want2)
{
	bool interrupted = false;
	enum np_helper_recv_status status = receive(c, timeout_ms, &interrupted);

	if (interrupted)
		return NP_CLIENT_INTERRUPTED;
	return judge(c, status, want1, want2);
}

enum np_client_status np_client_send(struct np_client *c)
{
	if (np_helper_send(&c->helper, &c->msg) == 0)
		return NP_CLIENT_OK;
	snprintf(c->err, sizeof c->err, "cannot talk to the helper");
	return NP_CLIENT_GONE;
}

/* The config message: each of its fields is the setting of the same name. */
static int fill_settings(struct np_client *c)
{
	char value[NP_PROTO_TEXT_MAX];
	size_t n = 0;
	const struct np_msg_field *fields = np_msg_fields(NP_MSG_CONFIG, &n);

	np_msg_init(&c->msg, NP_MSG_CONFIG);
	for (size_t i = 0; i < n; i++) {
		if (np_config_value(c->cfg, fields[i].name, value, sizeof value) != 0 ||
		    np_msg_set(&c->msg, &fields[i], value) != 0) {
			snprintf(c->err, sizeof c->err, "setting %s cannot be sent to the helper",
			         fields[i].name);
			return -1;
		}
	}
	return 0;
}

enum np_client_status np_client_start(struct np_client *c)
{
	enum np_client_status status;
	char helper[NP_CONFIG_PATH_MAX * 4 + 3];

	np_helper_init(&c->helper);
	if (np_helper_start(&c->helper, c->cfg->helper, c->err, sizeof c->err) != 0)
		return NP_CLIENT_NOT_STARTED;
	if (fill_settings(c) != 0)
		return NP_CLIENT_NOT_STARTED;
	status = np_client_send(c);
	if (status == NP_CLIENT_OK)
		status = np_client_expect(c, np_client_wait_ms(c, READY_TIMEOUT_MS), NP_MSG_READY,
		                          NP_MSG_READY);
	if (status == NP_CLIENT_OK && c->cfg->debug) {
		np_log_quote(helper, sizeof helper, c->cfg->helper);
		/* The helper is the child of its keeper, named nextpay-keeper in ps. */
		client_log(c, LOG_DEBUG, "helper started: helper=%s keeper_pid=%ld", helper,
		           (long)c->helper.pid);
	}
	return status;
}

void np_client_stop(struct np_client *c)
{
	np_helper_stop(&c->helper);
	np_msg_wipe(&c->msg);
}

/* ---- the code ---- */

enum np_client_status np_client_send_device_login(struct np_client *c, bool want_token)
{
	np_msg_init(&c->msg, NP_MSG_DEVICE_LOGIN);
	snprintf(c->msg.login.intent, sizeof c->msg.login.intent, "%s", c->cfg->intent);
	c->msg.login.poll_interval = c->cfg->poll_interval;
	c->msg.login.timeout = (unsigned)((np_client_ms_left(c) + 999) / 1000);
	c->msg.login.want_token = want_token;
	return np_client_send(c);
}

/*
 * Policy on where the person is sent: the helper has checked the URL's shape,
 * the caller's settings decide whether its host is one the administrator allows.
 */
static enum np_client_status check_verification_host(struct np_client *c)
{
	const char *url = c->code.verification_url;

	c->refused_host[0] = '\0';
	if (np_url_host(url, strlen(url), c->refused_host, sizeof c->refused_host) &&
	    np_config_allows_verification_host(c->cfg, c->refused_host)) {
		c->refused_host[0] = '\0';
		return NP_CLIENT_OK;
	}
	/* The caller logs it, as an event of its own (module/audit.c). */
	return NP_CLIENT_HOST_REFUSED;
}

enum np_client_status np_client_receive_code(struct np_client *c)
{
	long long lifetime_ms;
	enum np_client_status status =
		np_client_expect(c, np_client_wait_ms(c, np_client_call_limit_ms(c)), NP_MSG_CODE,
		                 NP_MSG_CODE);

	if (status != NP_CLIENT_OK)
		return status;
	c->code = c->msg.code;
	c->code_ms = np_monotonic_ms();
	status = check_verification_host(c);
	if (status != NP_CLIENT_OK)
		return status;
	/* The code's own lifetime bounds the sign-in as much as login_timeout does. */
	lifetime_ms = ((long long)c->code.expires_at - (long long)time(NULL)) * 1000;
	if (lifetime_ms <= 0)
		return NP_CLIENT_STALE_CODE;
	if (np_monotonic_ms() + lifetime_ms < c->deadline_ms)
		c->deadline_ms = np_monotonic_ms() + lifetime_ms;
	if (c->cfg->debug)
		client_log(c, LOG_DEBUG, "device code issued, %lld s to approve",
		           np_client_ms_left(c) / 1000);
	return NP_CLIENT_OK;
}

/* ---- showing it ---- */

/*
 * qr = yes: the URL as a QR code.  No message ends in a newline: applications
 * add their own, and a blank line would cut the code in two.
 */
static int show_qr(const struct np_client *c)
{
	char drawing[NP_QR_LINES_MAX * 80 * 3 + NP_QR_LINES_MAX + 1];
	size_t len;
	int n_lines = 0;

	if (!c->cfg->qr)
		return 0;
	if (np_qr_render(c->code.verification_url, drawing, sizeof drawing, &n_lines) != 0) {
		if (c->io->detailed)
			return show(c, "(The URL is too long for a QR code.)");
		client_log(c, LOG_WARNING, "QR code not drawn: URL too long");
		return 0;
	}
	len = strlen(drawing);
	if (len > 0 && drawing[len - 1] == '\n')
		drawing[len - 1] = '\0';
	return show(c, drawing);
}

/*
 * The instructions, in one message where io->message_max allows.  Otherwise
 * the information goes first and *last is left pointing at last_line, for
 * the caller to show or ask with; else *last is all of text.
 */
static int show_instructions(const struct np_client *c, const struct np_instructions *who,
                             const char *last_line, char *text, size_t text_size,
                             const char **last)
{
	struct np_instructions in = *who;
	char *newline;

	in.code = &c->code;
	in.seconds_left = (np_client_ms_left(c) + 999) / 1000;
	in.last_line = last_line;
	np_format_instructions(text, text_size, &in);
	*last = text;
	if (c->io->message_max == 0 || strlen(text) < c->io->message_max)
		return 0;
	newline = strrchr(text, '\n');
	*newline = '\0';
	*last = newline + 1;
	return show(c, text);
}

/*
 * qr = yes where only the latest message stays on screen: the drawing would
 * give way to the instructions at once, and cannot be one message with them
 * (PAM_MAX_MSG_SIZE).
 */
static void skip_qr(const struct np_client *c)
{
	if (c->cfg->qr && c->cfg->debug)
		client_log(c, LOG_DEBUG, "QR code not drawn: the application shows one message at a time");
}

/*
 * The instructions ending in "Waiting for your approval...".  For an
 * application that shows only the latest message (whole, else nothing
 * after the URL and code), else as show_instructions() splits them.
 */
static int show_waiting(const struct np_client *c, const struct np_instructions *who,
                        bool latest_only, char *text, size_t text_size)
{
	const char *last = text;

	if (show_instructions(c, who, "Waiting for your approval...", text, text_size, &last) != 0)
		return -1;
	if (last == text)
		return show(c, text);
	return latest_only ? 0 : show(c, last);
}

/*
 * The time left, while polling: a line of its own on a terminal, which keeps
 * what it printed; else the whole instructions again, with the time left in
 * them, so that the URL never gives way to it.  A failure to show it does not
 * end the wait: the instructions were shown.
 */
static void note_progress(const struct np_client *c, const struct np_instructions *who,
                          bool repeating, char *text, size_t text_size)
{
	if (repeating) {
		(void)show_waiting(c, who, true, text, text_size);
		return;
	}
	np_format_progress(text, text_size, &c->code, (np_client_ms_left(c) + 999) / 1000);
	(void)show(c, text);
}

enum np_client_status np_client_wait_polling(struct np_client *c,
                                             const struct np_instructions *who,
                                             long long repeat_ms)
{
	char text[NP_INSTRUCTIONS_MAX];
	bool repeating = repeat_ms > 0;
	long long every = repeating ? repeat_ms : NP_CLIENT_PROGRESS_MS;

	if (repeating)
		skip_qr(c);
	/* Shown even under PAM_SILENT (sudo always sets it): without it nobody can sign in. */
	if ((!repeating && show_qr(c) != 0) ||
	    show_waiting(c, who, repeating, text, sizeof text) != 0)
		return NP_CLIENT_CONV_FAILED;
	for (long long next_note = np_monotonic_ms() + every;;) {
		long long until_note = next_note - np_monotonic_ms();
		bool interrupted = false;
		int wait_ms = np_client_wait_ms(c, until_note > 0 ? until_note : 0);
		enum np_helper_recv_status status = receive(c, wait_ms, &interrupted);

		if (interrupted)
			return NP_CLIENT_INTERRUPTED;
		if (status == NP_RECV_TIMEOUT && np_client_ms_left(c) > 0) {
			if (np_monotonic_ms() >= next_note) {
				note_progress(c, who, repeating, text, sizeof text);
				next_note += every;
			}
			continue;
		}
		return judge(c, status, NP_MSG_IDENTITY, NP_MSG_IDENTITY);
	}
}

/* One Enter: the helper answers after its next scheduled poll (never sooner). */
static enum np_client_status poll_now(struct np_client *c)
{
	enum np_client_status status;

	if (np_client_ms_left(c) == 0)
		return NP_CLIENT_EXPIRED;
	np_msg_init(&c->msg, NP_MSG_POLL_NOW);
	status = np_client_send(c);
	/*
	 * Enter never brings a poll forward, and the helper answers at once once
	 * it has seen the approval: it is bounded by its own timeouts, so wait for
	 * it up to the deadline.
	 */
	if (status == NP_CLIENT_OK)
		status = np_client_expect(c, np_client_wait_ms(c, -1), NP_MSG_IDENTITY,
		                          NP_MSG_PENDING);
	return status;
}

enum np_client_status np_client_wait_prompting(struct np_client *c,
                                               const struct np_instructions *who,
                                               char *answer)
{
	char text[NP_INSTRUCTIONS_MAX];
	const char *prompt = text;
	enum np_client_status status;

	/* With api_key = yes every prompt says a key may be typed there instead. */
	const char *enter = c->cfg->api_key
	                            ? "Press Enter once you have approved (or type an API key): "
	                            : "Press Enter once you have approved: ";

	/* sshd holds information back until the next prompt, which comes next. */
	if (show_qr(c) != 0 || show_instructions(c, who, enter, text, sizeof text, &prompt) != 0)
		return NP_CLIENT_CONV_FAILED;
	for (;;) {
		bool typed;

		if (c->io->ask == NULL ||
		    c->io->ask(c->io->ctx, prompt, answer, NP_CLIENT_ANSWER_MAX) != 0) {
			sodium_memzero(answer, NP_CLIENT_ANSWER_MAX);
			return NP_CLIENT_CONV_FAILED;
		}
		typed = answer[0] != '\0';
		if (typed && c->cfg->api_key && np_valid_api_key(answer, strlen(answer)))
			return NP_CLIENT_TYPED_KEY;
		sodium_memzero(answer, NP_CLIENT_ANSWER_MAX);
		/*
		 * Otherwise only Enter is expected.  Text here is a password sent by
		 * sshd's password authentication (which answers every prompt with it
		 * and would keep us looping until the timeout), or a slip: refuse at once.
		 */
		if (typed)
			return NP_CLIENT_TYPED_TEXT;
		status = poll_now(c);
		if (status != NP_CLIENT_OK || c->msg.type == NP_MSG_IDENTITY)
			return status;
		snprintf(text, sizeof text, "Still waiting for approval of code %s.\n%s",
		         c->code.code, enter);
		prompt = text;
	}
}

/* ---- what it came to, in words ---- */

/* A failure the helper reported, for the person signing in. */
static const char *failure_words(const struct np_msg_failure *f)
{
	switch (f->reason) {
	case NP_FAIL_DENIED:
		return "The sign-in was denied in NextPay.";
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		return EXPIRED_WORDS;
	case NP_FAIL_UNAUTHORIZED:
		return "NextPay did not accept the sign-in.";
	case NP_FAIL_CONFIG:
		return NOT_SET_UP_WORDS;
	case NP_FAIL_UNREACHABLE:
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_TLS:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		return NOT_REACHED_WORDS;
	}
}

/* The same failure for the administrator: what the helper said, too. */
static void failure_details(const struct np_client *c, const struct np_msg_failure *f,
                            char *out, size_t out_size)
{
	const char *detail = f->detail[0] != '\0' ? f->detail : "no details";

	switch (f->reason) {
	case NP_FAIL_DENIED:
		/* The detail is the API's status word: worth showing only when it says more. */
		if (strcmp(detail, "denied") == 0)
			snprintf(out, out_size, "The sign-in was denied in NextPay.");
		else
			snprintf(out, out_size, "The sign-in was denied in NextPay (status \"%s\").",
			         detail);
		return;
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		snprintf(out, out_size, EXPIRED_WORDS);
		return;
	case NP_FAIL_UNAUTHORIZED:
		snprintf(out, out_size, "NextPay did not accept the sign-in (%s).", detail);
		return;
	case NP_FAIL_CONFIG:
		snprintf(out, out_size,
		         "NextPay sign-in is not set up correctly on this host: %s" CHECK_FINDS ".",
		         detail);
		return;
	case NP_FAIL_TLS:
	case NP_FAIL_UNREACHABLE:
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		snprintf(out, out_size, "NextPay could not be reached at %s: %s: %s.",
		         c->cfg->api_url, np_failure_reason_name(f->reason), detail);
		return;
	}
}

/* The words of the other statuses for the administrator; NULL where the person's serve. */
static void admin_words(const struct np_client *c, enum np_client_status status, char *out,
                        size_t out_size)
{
	switch (status) {
	case NP_CLIENT_FAILED:
		failure_details(c, &c->msg.failure, out, out_size);
		return;
	case NP_CLIENT_NOT_STARTED:
		snprintf(out, out_size, "%s" CHECK_FINDS, c->err);
		return;
	case NP_CLIENT_SILENT:
		snprintf(out, out_size, "helper %s: %s", c->cfg->helper, c->err);
		return;
	case NP_CLIENT_UNEXPECTED:
		snprintf(out, out_size, "the helper %s sent an unexpected message", c->cfg->helper);
		return;
	case NP_CLIENT_GONE:
	case NP_CLIENT_BROKEN:
		snprintf(out, out_size, "NextPay could not be reached: %s", c->err);
		return;
	case NP_CLIENT_HOST_REFUSED:
		snprintf(out, out_size,
		         "NextPay sent a verification URL for host \"%s\", which verification_hosts "
		         "does not name.",
		         c->refused_host);
		return;
	case NP_CLIENT_INTERRUPTED:
		snprintf(out, out_size, "Interrupted: the sign-in was abandoned.");
		return;
	case NP_CLIENT_EXPIRED:
	case NP_CLIENT_STALE_CODE:
		snprintf(out, out_size, EXPIRED_WORDS);
		return;
	case NP_CLIENT_OK:
	case NP_CLIENT_CONV_FAILED:
	case NP_CLIENT_TYPED_KEY:
	case NP_CLIENT_TYPED_TEXT:
	case NP_CLIENT_NO_MEMORY:
		break;
	}
	out[0] = '\0';
}

void np_client_words(const struct np_client *c, enum np_client_status status, char *out,
                     size_t out_size)
{
	const char *words = "";

	if (c->io->detailed) {
		admin_words(c, status, out, out_size);
		return;
	}
	switch (status) {
	case NP_CLIENT_FAILED:
		words = failure_words(&c->msg.failure);
		break;
	case NP_CLIENT_EXPIRED:
	case NP_CLIENT_STALE_CODE:
		words = EXPIRED_WORDS;
		break;
	case NP_CLIENT_NOT_STARTED:
	case NP_CLIENT_HOST_REFUSED:
		words = NOT_SET_UP_WORDS;
		break;
	case NP_CLIENT_GONE:
	case NP_CLIENT_BROKEN:
	case NP_CLIENT_UNEXPECTED:
	case NP_CLIENT_SILENT:
		words = NOT_REACHED_WORDS;
		break;
	case NP_CLIENT_TYPED_TEXT:
		words = c->cfg->api_key ? "That is not a NextPay API key (they start with npk_)."
		                        : "NextPay sign-in takes no password here: approve in the "
		                          "browser, then press Enter.";
		break;
	case NP_CLIENT_OK:
	case NP_CLIENT_INTERRUPTED:
	case NP_CLIENT_CONV_FAILED:
	case NP_CLIENT_TYPED_KEY:
	case NP_CLIENT_NO_MEMORY:
		break;
	}
	snprintf(out, out_size, "%s", words);
}

/* A failure the helper reported, in the log's one word. */
static const char *failure_result(const struct np_msg_failure *f)
{
	switch (f->reason) {
	case NP_FAIL_DENIED:
		return "denied";
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		return "expired";
	case NP_FAIL_UNAUTHORIZED:
		return "failure";
	case NP_FAIL_CONFIG:
		return "error";
	case NP_FAIL_UNREACHABLE:
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_TLS:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		return "unavailable";
	}
}

const char *np_client_result(const struct np_client *c, enum np_client_status status)
{
	switch (status) {
	case NP_CLIENT_OK:
		return "success";
	case NP_CLIENT_FAILED:
		return failure_result(&c->msg.failure);
	case NP_CLIENT_EXPIRED:
	case NP_CLIENT_STALE_CODE:
		return "expired";
	case NP_CLIENT_TYPED_TEXT:
		return "failure";
	case NP_CLIENT_GONE:
	case NP_CLIENT_BROKEN:
	case NP_CLIENT_UNEXPECTED:
	case NP_CLIENT_SILENT:
		return "unavailable";
	case NP_CLIENT_HOST_REFUSED:
	case NP_CLIENT_NOT_STARTED:
	case NP_CLIENT_INTERRUPTED:
	case NP_CLIENT_CONV_FAILED:
	case NP_CLIENT_TYPED_KEY:
	case NP_CLIENT_NO_MEMORY:
	default:
		return "error";
	}
}

/* The log's words for the statuses whose reason is always the same. */
static const char *const fixed_reasons[] = {
	[NP_CLIENT_EXPIRED] = "login_timeout or code lifetime passed",
	[NP_CLIENT_STALE_CODE] = "code arrived already expired",
	[NP_CLIENT_NOT_STARTED] = "helper cannot be started",
	[NP_CLIENT_UNEXPECTED] = "the helper broke the protocol: unexpected message",
	[NP_CLIENT_SILENT] = "no answer from the helper in time",
	[NP_CLIENT_HOST_REFUSED] = "verification URL host not in verification_hosts",
	[NP_CLIENT_INTERRUPTED] = "interrupted",
	[NP_CLIENT_CONV_FAILED] = "conversation failed",
	[NP_CLIENT_TYPED_TEXT] = "text typed at the approval prompt",
	[NP_CLIENT_NO_MEMORY] = "out of memory",
};

void np_client_reason(const struct np_client *c, enum np_client_status status, char *out,
                      size_t out_size)
{
	const struct np_msg_failure *f = &c->msg.failure;

	if (status == NP_CLIENT_FAILED)
		snprintf(out, out_size, "%s%s%s", np_failure_reason_name(f->reason),
		         f->detail[0] != '\0' ? ": " : "", f->detail);
	else if (status == NP_CLIENT_GONE)
		snprintf(out, out_size, "helper: %s", c->err);
	else if (status == NP_CLIENT_BROKEN)
		snprintf(out, out_size, "the helper broke the protocol: %s", c->err);
	else if ((size_t)status < sizeof fixed_reasons / sizeof fixed_reasons[0] &&
	         fixed_reasons[status] != NULL)
		snprintf(out, out_size, "%s", fixed_reasons[status]);
	else
		out[0] = '\0';
}
