/* SPDX-License-Identifier: BSD-2-Clause */
/* Talking to the person through the application's PAM conversation. */
#ifndef NP_CONV_H
#define NP_CONV_H

#include <security/pam_modules.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Shows text (PAM_TEXT_INFO or PAM_ERROR_MSG).  The caller decides about
 * PAM_SILENT: sign-in instructions are shown regardless, since nobody can
 * sign in without them.  Returns a PAM code.
 */
int np_conv_show(pam_handle_t *pamh, int style, const char *text);

/*
 * Shows text of several lines in as few messages as PAM_MAX_MSG_SIZE allows,
 * broken only between lines (a line too long for one message is cut at a
 * character boundary).  No message ends in a newline: applications add their
 * own.  Returns a PAM code.
 */
int np_conv_show_lines(pam_handle_t *pamh, int style, const char *text);

/*
 * Asks with an echo-off prompt and returns the answer in answer (wiped by the
 * caller).  A missing answer is a conversation failure (PAM_CONV_ERR), as
 * some applications return success with no response when they cannot ask.
 */
int np_conv_ask(pam_handle_t *pamh, const char *prompt, char *answer, size_t answer_size);

/*
 * Whether this process has a controlling terminal the person could read and
 * type at: sudo, su and login on a terminal have one; a display manager, a
 * daemon and sshd's authentication process have none.
 */
bool np_conv_has_terminal(void);

#endif
