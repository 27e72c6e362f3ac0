/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/greeter.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/sanitize.h"
#include "module/conv.h"

/* A display name longer than this is no display name (X11 keeps host names short). */
#define DISPLAY_NAME_MAX 255

/* 1 or more decimal digits from *p; *p moves past them. */
static bool digits(const char **p)
{
	const char *start = *p;

	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > start;
}

/* A host name or address before the display number: letters, digits, ".-_:" (IPv6). */
static bool host_part(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == ':'))
			return false;
	}
	return true;
}

bool np_greeter_is_x_display(const char *text)
{
	const char *colon = strrchr(text, ':');
	const char *p;

	if (colon == NULL || strlen(text) > DISPLAY_NAME_MAX ||
	    !host_part(text, (size_t)(colon - text)))
		return false;
	p = colon + 1;
	if (!digits(&p))
		return false;
	if (*p == '.') {
		p++;
		if (!digits(&p))
			return false;
	}
	return *p == '\0';
}

void np_greeter_detect(struct np_signin *s, char *why, size_t why_size)
{
	const char *xdisplay = np_signin_item(s, PAM_XDISPLAY);
	const char *tty = np_signin_item(s, PAM_TTY);
	char xdisplay_q[DISPLAY_NAME_MAX * 4 + 3];
	char tty_q[DISPLAY_NAME_MAX * 4 + 3];
	bool terminal;

	s->greeter.tty_is_display = np_greeter_is_x_display(tty);
	s->greeter.flow = false;
	np_log_quote(xdisplay_q, sizeof xdisplay_q, xdisplay);
	np_log_quote(tty_q, sizeof tty_q, tty);
	if (xdisplay[0] == '\0' && !s->greeter.tty_is_display) {
		snprintf(why, why_size, "no X display named: PAM_XDISPLAY=%s PAM_TTY=%s", xdisplay_q,
		         tty_q);
		return;
	}
	/*
	 * A display manager authenticates as root; a screen locker calls PAM as
	 * the person whose screen it locks (xscreensaver-auth drops root first),
	 * names the display the same way, and must be told a refusal at once.
	 */
	if (getuid() != 0) {
		snprintf(why, why_size, "PAM_XDISPLAY=%s PAM_TTY=%s, but uid %lu: a screen locker",
		         xdisplay_q, tty_q, (unsigned long)getuid());
		return;
	}
	terminal = np_conv_has_terminal();
	s->greeter.flow = !terminal;
	snprintf(why, why_size, "PAM_XDISPLAY=%s PAM_TTY=%s, %s controlling terminal", xdisplay_q,
	         tty_q, terminal ? "a" : "no");
}

int np_greeter_ready(struct np_signin *s)
{
	char rhost[NP_RHOST_SHOWN + 1];
	struct np_instructions in;
	char text[PAM_MAX_MSG_SIZE];
	char who[NP_WHO_MAX];
	char answer[NP_CLIENT_ANSWER_MAX];
	int rc;

	if (!s->greeter.flow || s->cfg.use_first_pass)
		return PAM_SUCCESS;
	np_signin_who(s, rhost, sizeof rhost, &in);
	np_format_who(who, sizeof who, &in);
	snprintf(text, sizeof text, "%s\n" NP_WORDS_GET_CODE ".", who);
	rc = np_conv_show(s->pamh, PAM_TEXT_INFO, text);
	if (rc == PAM_SUCCESS)
		rc = np_conv_ask(s->pamh, NP_WORDS_GET_CODE ": ", answer, sizeof answer);
	/* A password typed there out of habit is nobody's business. */
	sodium_memzero(answer, sizeof answer);
	if (rc == PAM_SUCCESS)
		return PAM_SUCCESS;
	return np_signin_verdict(s, NP_CLIENT_CONV_FAILED);
}
