/*
 * One sign-in in progress, shared by the parts of the module that run it:
 * its settings, the helper it talks to, the deadline, and the outcome that
 * is logged once at the end.  The helpers here turn what the helper process
 * says (or fails to say) into PAM codes and into words for the person.
 */
#ifndef NP_SIGNIN_H
#define NP_SIGNIN_H

#include <security/pam_modules.h>
#include <stdbool.h>

#include "common/cache.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/helper_proc.h"
#include "common/protocol.h"
#include "common/usermap.h"
#include "common/wording.h"

#define ACCOUNT_MAX 256
#define ACCOUNT_SHOWN 32
#define HOST_SHOWN 48
#define SERVICE_MAX 63      /* longer PAM service names are refused (the cache keeps 63) */
#define RHOST_MAX 255
/* pam_set_data name (and value) left on the handle once the person said no. */
#define DENIED_MARK "pam_nextpay.denied"
#define NOT_SET_UP \
	"NextPay sign-in is not set up correctly on this host. Please contact your administrator."
#define NOT_REACHED "NextPay could not be reached. Please try again later."

/* A step that neither signed the person in nor refused them: go on to the next way. */
enum { NOT_DECIDED = -1 };

/* Everything one sign-in needs; on the heap, as hosts may run PAM on small stacks. */
struct np_signin {
	pam_handle_t *pamh;
	struct np_config cfg;
	struct np_usermap map;
	struct np_helper helper;
	struct np_msg msg;          /* the last message from the helper */
	struct np_msg_code code;    /* the code being shown */
	/*
	 * Copies of PAM_SERVICE, PAM_USER and PAM_RHOST as they were at the start:
	 * the application may change the items (and so free libpam's strings)
	 * during the conversation.
	 */
	char service[SERVICE_MAX + 1];
	char account[ACCOUNT_MAX + 1];
	char rhost[RHOST_MAX + 1];
	bool no_such_account;       /* refused at the end, after the same flow as any other */
	bool account_personal;      /* not root, nobody or a system account (account.h) */
	char account_shown[ACCOUNT_SHOWN + 1];
	char host_shown[HOST_SHOWN + 1];
	char rhost_shown[128];
	char service_shown[NP_SERVICE_WORD_SHOWN + 1];
	long long deadline_ms;      /* CLOCK_MONOTONIC */
	char user_id[NP_USER_ID_MAX + 1];
	const char *result;         /* one word for the log */
	char reason[256];           /* for the log: what happened, no secrets */
	const char *method;         /* how the identity was established, for the log */
	struct np_cache cache;
	bool cache_ready;           /* key read, directory usable, scope known */
	char scope[NP_CACHE_SCOPE_MAX];
	/*
	 * In prompt mode, unless the sshd shows information at once (OpenSSH
	 * 10.3 and later), text without a prompt after it never reaches the
	 * person: what np_signin_tell() says is kept and shown with a last prompt.
	 */
	bool prompting;
	char untold[PAM_MAX_MSG_SIZE - 32]; /* room left for the last prompt's own words */
};

long long np_signin_ms_left(const struct np_signin *s);
/*
 * How long the helper may take to answer one request to the API: it must be
 * done within request_timeout, retries included; the rest is a margin for
 * the pipes and the scheduler.
 */
long long np_signin_call_limit_ms(const struct np_signin *s);
/* Milliseconds to wait: what is left before the deadline, at most limit_ms (-1: no limit). */
int np_signin_wait_ms(const struct np_signin *s, long long limit_ms);

/* Records the outcome for the log line and returns rc. */
int np_signin_outcome(struct np_signin *s, int rc, const char *result, const char *reason);
/* Tells the person why, in words that need no knowledge of the internals. */
void np_signin_tell(struct np_signin *s, const char *text);
/* Shows what np_signin_tell() kept back with one last prompt ("Press Enter to close"). */
void np_signin_tell_last(struct np_signin *s);
/* What a failure message from the helper means for the person and for PAM. */
int np_signin_failure(struct np_signin *s, const struct np_msg_failure *f);
/*
 * This host is set up wrongly: logs what (err, sanitised, after prefix),
 * tells the person to ask their administrator, and returns PAM_SERVICE_ERR.
 */
int np_signin_set_up_error(struct np_signin *s, const char *prefix, const char *err,
                         const char *reason);
int np_signin_helper_trouble(struct np_signin *s, enum np_helper_recv_status status,
                           const char *err);
int np_signin_timed_out(struct np_signin *s);
/* Judges what np_helper_recv() brought: failures and surprises end the wait. */
int np_signin_judge(struct np_signin *s, enum np_helper_recv_status status, const char *err,
                  enum np_msg_type want1, enum np_msg_type want2);
/* Waits for the next message of one of the wanted kinds. */
int np_signin_expect(struct np_signin *s, int timeout_ms, enum np_msg_type want1,
                   enum np_msg_type want2);
/* Starts the helper and hands it the settings; PAM_SUCCESS once it is ready. */
int np_signin_start_helper(struct np_signin *s);

#endif
