/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One sign-in in progress, shared by the parts of the module that run it:
 * its settings, the sign-in client that talks to the helper (common/client.h),
 * and the outcome that is logged once at the end.  The functions here turn
 * what the client reports into PAM codes and into words for the person.
 */
#ifndef NP_SIGNIN_H
#define NP_SIGNIN_H

#include <security/pam_modules.h>
#include <stdbool.h>

#include "common/account.h"
#include "common/cache.h"
#include "common/client.h"
#include "common/config.h"
#include "common/events.h"
#include "common/ssh_key.h"
#include "common/usermap.h"
#include "common/wording.h"

#define SERVICE_MAX 63      /* longer PAM service names are refused (the cache keeps 63) */
#define RHOST_MAX 255
/* pam_set_data name (and value) left on the handle once the person said no. */
#define DENIED_MARK "pam_nextpay.denied"

/* Where a refusal's words go. */
enum np_tell {
	NP_TELL_NOW,       /* an error message at once: a terminal keeps it */
	/*
	 * Kept, then the text of one last prompt: in prompt mode, unless the
	 * sshd shows information at once (OpenSSH 10.3 and later), text without
	 * a prompt after it never reaches the person.
	 */
	NP_TELL_ON_PROMPT,
	/*
	 * Kept, then information and one last prompt: a greeter drops error
	 * messages for words of its own, and starts over after a failure, which
	 * would replace the words at once.
	 */
	NP_TELL_GREETER,
};

/* A step that neither signed the person in nor refused them: go on to the next way. */
enum { NOT_DECIDED = -1 };

/* Everything one sign-in needs; on the heap, as hosts may run PAM on small stacks. */
struct np_signin {
	pam_handle_t *pamh;
	struct np_config cfg;
	struct np_usermap map;
	struct np_client client;    /* the helper, its last message, the code, the deadline */
	struct np_client_io io;     /* the client's way to the person: the conversation */
	/*
	 * Copies of PAM_SERVICE, PAM_USER and PAM_RHOST as they were at the start:
	 * the application may change the items (and so free libpam's strings)
	 * during the conversation.
	 */
	char service[SERVICE_MAX + 1];
	char account[NP_ACCOUNT_MAX + 1];
	char rhost[RHOST_MAX + 1];
	bool no_such_account;       /* refused at the end, after the same flow as any other */
	bool account_personal;      /* not root, nobody or a system account (account.h) */
	char account_shown[NP_ACCOUNT_SHOWN + 1];
	char host_shown[NP_HOST_SHOWN + 1];
	char rhost_shown[128];
	char service_shown[NP_SERVICE_WORD_SHOWN + 1];
	char user_id[NP_USER_ID_MAX + 1];
	const char *result;         /* one word for the log */
	char reason[256];           /* for the log: what happened, no secrets */
	const char *method;         /* how the identity was established, for the log */
	char signin_id[NP_SIGNIN_ID_LEN + 1]; /* in every event; the person's reference */
	long long decided_ms;       /* CLOCK_MONOTONIC when the sign-in was decided */
	/*
	 * The last verdict was PAM_AUTHINFO_UNAVAIL because NextPay could not be
	 * reached (the helper said so), not because the helper failed: only that
	 * opens the break-glass gate (module/breakglass.h).
	 */
	bool outage;
	/*
	 * The fingerprints of the public keys sshd says this connection
	 * completed (sshd_keys.h), joined by ','; "" for none or another service.
	 */
	char ssh_keys[NP_SSH_KEYS_TEXT_MAX + 1];
	/* Signed in on a cached approval while NextPay did not answer (offline_grace). */
	bool offline;
	struct np_cache cache;
	bool cache_ready;           /* key read, directory usable, scope known */
	/* The scope the entry is in: key scope without a key falls back to the session's. */
	enum np_cache_scope scope_kind;
	char scope[NP_CACHE_SCOPE_MAX];
	/* At a display manager's greeter (greeter.c), and how often it needs the instructions. */
	struct {
		bool flow;              /* its own flow: a greeter, and wait = auto */
		/*
		 * PAM_TTY names the display, as LightDM sets it: its GTK greeter
		 * clears the message on Enter even while no prompt is out, so the
		 * instructions come back every few seconds.
		 */
		bool tty_is_display;
	} greeter;
	/* Where np_signin_tell() puts a refusal's words. */
	enum np_tell tell;
	char untold[PAM_MAX_MSG_SIZE - 64]; /* room left for the reference and the last prompt */
};

/*
 * Sets up s for pamh: the client, its way to the person through the
 * conversation, and the sign-in's id (sodium_init() first).
 */
void np_signin_init(struct np_signin *s, pam_handle_t *pamh);

/*
 * Who signs in to what, from where (the instructions' first line): in gets
 * s's names, with PAM_RHOST shortened into rhost (NP_RHOST_SHOWN + 1 bytes).
 */
void np_signin_who(const struct np_signin *s, char *rhost, size_t rhost_size,
                   struct np_instructions *in);
/* A PAM item as text: "" when it is not set. */
const char *np_signin_item(const struct np_signin *s, int item);

/* Records the outcome for the log line and returns rc. */
int np_signin_outcome(struct np_signin *s, int rc, const char *result, const char *reason);
/* Tells the person why, in words that need no knowledge of the internals. */
void np_signin_tell(struct np_signin *s, const char *text);
/*
 * Shows what np_signin_tell() kept back with one last prompt ("Press Enter to
 * close", or at a greeter "Press Enter to start again"), whose answer is dropped.
 */
void np_signin_tell_last(struct np_signin *s);
/*
 * What a status of the client means for the person and for PAM: tells them
 * (np_client_words), records the outcome (np_client_reason) and returns the
 * PAM code.  A denial also leaves DENIED_MARK on the handle.
 */
int np_signin_verdict(struct np_signin *s, enum np_client_status status);
/*
 * This host is set up wrongly: logs what (err, sanitised, after prefix),
 * tells the person to ask their administrator, and returns PAM_SERVICE_ERR.
 */
int np_signin_set_up_error(struct np_signin *s, const char *prefix, const char *err,
                           const char *reason);
/* Waits for the next message of one of the wanted kinds (np_client_expect), as a PAM code. */
int np_signin_expect(struct np_signin *s, int timeout_ms, enum np_msg_type want1,
                     enum np_msg_type want2);
/* Starts the helper and hands it the settings; PAM_SUCCESS once it is ready. */
int np_signin_start_helper(struct np_signin *s);

#endif
