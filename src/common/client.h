/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sign-in client, shared by the PAM module and nextpayctl: it starts
 * nextpay-helper, hands it the settings, and runs the device-code wait (the
 * code, the instructions and QR code, the progress lines, the prompt or the
 * poll) and says in words what went wrong.
 *
 * The caller says how to reach the person (struct np_client_io: show, ask,
 * log, and what may interrupt a wait, as duo_unix's duo_set_conv_funcs()
 * does) and decides everything else: which account, which policy, what a
 * status means for PAM or for an exit code.
 */
#ifndef NP_CLIENT_H
#define NP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/helper_proc.h"
#include "common/protocol.h"
#include "common/wording.h"

/* A progress line this often while polling: a terminal is not a log. */
#define NP_CLIENT_PROGRESS_MS 30000

/* The answer buffer np_client_wait_prompting() takes (an API key fits). */
#define NP_CLIENT_ANSWER_MAX 512

struct np_client_io {
	/* Shows information of one or more lines (no trailing newline).  0, or -1. */
	int (*show)(void *ctx, const char *text);
	/*
	 * Asks with an echo-off prompt; the answer ("" for Enter) into answer.  0,
	 * or -1 when nobody answered.  NULL where nobody can be asked.
	 */
	int (*ask)(void *ctx, const char *prompt, char *answer, size_t answer_size);
	/* A line for the log at a syslog priority; NULL: nothing is logged. */
	void (*log)(void *ctx, int priority, const char *text);
	/* Whether the person asked to abandon the wait (Ctrl-C); NULL: nothing can. */
	bool (*interrupted)(void *ctx);
	void *ctx;
	/* The longest text show and ask take as one message (PAM_MAX_MSG_SIZE); 0: any. */
	size_t message_max;
	/*
	 * Whose words np_client_words() gives: false for the person signing in
	 * (nothing of the internals), true for the administrator at nextpayctl
	 * (each failure with its detail).
	 */
	bool detailed;
};

enum np_client_status {
	NP_CLIENT_OK = 0,
	NP_CLIENT_FAILED,        /* the helper reported a failure: msg.failure */
	NP_CLIENT_EXPIRED,       /* the deadline (login_timeout, or the code's life) passed */
	NP_CLIENT_STALE_CODE,    /* the code arrived already expired */
	NP_CLIENT_NOT_STARTED,   /* the helper could not be started: err */
	NP_CLIENT_GONE,          /* it exited or cannot be written to: err */
	NP_CLIENT_BROKEN,        /* it sent something outside the protocol: err */
	NP_CLIENT_UNEXPECTED,    /* it sent a message out of turn */
	NP_CLIENT_SILENT,        /* no answer in time, the deadline still ahead */
	NP_CLIENT_HOST_REFUSED,  /* the verification URL's host is not allowed: refused_host */
	NP_CLIENT_INTERRUPTED,   /* io.interrupted said so */
	NP_CLIENT_CONV_FAILED,   /* show or ask failed */
	NP_CLIENT_TYPED_KEY,     /* at the prompt, an API key was typed (in the answer buffer) */
	NP_CLIENT_TYPED_TEXT,    /* at the prompt, other text was typed */
	NP_CLIENT_NO_MEMORY,
};

/* One sign-in's client; on the heap, as hosts may run PAM on small stacks. */
struct np_client {
	const struct np_config *cfg;
	const struct np_client_io *io;
	struct np_helper helper;
	struct np_msg msg;          /* the last message to or from the helper */
	struct np_msg_code code;    /* the code being shown */
	long long deadline_ms;      /* CLOCK_MONOTONIC; the caller sets it */
	long long code_ms;          /* CLOCK_MONOTONIC when the code arrived; 0: none yet */
	char err[512];              /* what became of the helper, for words and the log */
	char refused_host[NP_URL_MAX + 1];
};

void np_client_init(struct np_client *c, const struct np_config *cfg,
                    const struct np_client_io *io);

/* Milliseconds left before the deadline, 0 once it passed. */
long long np_client_ms_left(const struct np_client *c);
/*
 * How long the helper may take to answer one request to the API: it must be
 * done within request_timeout, retries included; the rest is a margin for
 * the pipes and the scheduler.
 */
long long np_client_call_limit_ms(const struct np_client *c);
/* Milliseconds to wait: what is left before the deadline, at most limit_ms (-1: no limit). */
int np_client_wait_ms(const struct np_client *c, long long limit_ms);

/*
 * Starts cfg->helper, sends it the settings it needs (the fields of the
 * protocol's config message, each the setting of that name) and waits for
 * ready (10 s at most, never past the deadline).  Call np_client_stop() in
 * every case.
 */
enum np_client_status np_client_start(struct np_client *c);

/* Sends c->msg.  NP_CLIENT_GONE when the helper cannot be written to. */
enum np_client_status np_client_send(struct np_client *c);

/*
 * Waits at most timeout_ms for the next message into c->msg; OK when it is
 * of type want1 or want2.  A failure, a silence, a message out of turn or
 * the end of the helper is said by the status (and err).
 */
enum np_client_status np_client_expect(struct np_client *c, int timeout_ms,
                                       enum np_msg_type want1, enum np_msg_type want2);

/* Asks the helper to run the device-code flow (device_login). */
enum np_client_status np_client_send_device_login(struct np_client *c, bool want_token);

/*
 * Waits for the code, checks that its URL sends the person to a host of
 * verification_hosts, and brings the deadline forward to the code's end.
 */
enum np_client_status np_client_receive_code(struct np_client *c);

/*
 * Poll mode: the QR code (qr = yes) and the instructions as information,
 * then the wait for the helper's verdict.  who names host, account, service
 * and source; the rest is filled in.  OK with the identity in c->msg.
 *
 * repeat_ms 0, for a terminal: a progress line every 30 s.  Otherwise, for
 * an application that shows only its latest message (a greeter): the whole
 * instructions again every repeat_ms with the time left in them, and no QR
 * code, which could not stay on screen beside them.
 */
enum np_client_status np_client_wait_polling(struct np_client *c,
                                             const struct np_instructions *who,
                                             long long repeat_ms);

/*
 * Prompt mode: the instructions ride on an echo-off prompt; each Enter asks
 * the helper where the approval stands.  answer is NP_CLIENT_ANSWER_MAX
 * bytes of the caller's (locked memory): it holds the key on
 * NP_CLIENT_TYPED_KEY (with cfg->api_key) and is wiped otherwise.
 */
enum np_client_status np_client_wait_prompting(struct np_client *c,
                                               const struct np_instructions *who,
                                               char *answer);

/* Kills and reaps the helper, wipes what is left of the messages. */
void np_client_stop(struct np_client *c);

/* What status means, in the words of io->detailed's audience ("" for nothing to say). */
void np_client_words(const struct np_client *c, enum np_client_status status, char *out,
                     size_t out_size);

/*
 * The log's one word for what status came to: success, denied, expired,
 * failure, unavailable or error (NEXTPAY_RESULT).
 */
const char *np_client_result(const struct np_client *c, enum np_client_status status);

/* What status means for the log: no secrets, every value as the helper sent it. */
void np_client_reason(const struct np_client *c, enum np_client_status status, char *out,
                      size_t out_size);

#endif
