/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Whether the module runs at a display manager's greeter, and what the greeter
 * flow asks of the person before any code exists.
 *
 * A greeter is no terminal: it shows one message at a time (the latest
 * replaces the one before), starts a session by itself only after a prompt
 * was answered, and starts a new PAM conversation at once after a failure.
 * wait = auto gives it a flow of its own (device_flow.c): a prompt that asks
 * for the code, the instructions repeated while the helper polls, and a
 * refusal's reason kept on screen with a last prompt (signin.c).
 */
#ifndef NP_GREETER_H
#define NP_GREETER_H

#include <stdbool.h>
#include <stddef.h>

#include "module/signin.h"

/*
 * How often the greeter flow shows the instructions again where PAM_TTY names
 * the display (LightDM): its GTK greeter clears them on Enter or "Log In"
 * even while no prompt is out, and they must come back before the person
 * wonders where the code went.  Elsewhere (GDM keeps every message on screen
 * for a reading time of its own, in a queue) only as often as a terminal
 * gets a progress line.
 */
#define NP_GREETER_REPEAT_MS 2000

/* Room for the reason np_greeter_detect() gives, for the debug log. */
#define NP_GREETER_WHY_MAX 256

/*
 * Whether the application is a display manager: it named an X display
 * (PAM_XDISPLAY, or a PAM_TTY such as ":0", as LightDM sets it), runs as root
 * (a screen locker names the display too, but runs as its user) and the
 * process has no controlling terminal.  sshd, sudo, su and login name a
 * terminal or nothing, and a process with a terminal can show text on it.
 * Fills s->greeter (flow: whether it is one; the caller drops the flow
 * unless wait = auto); why says what was seen, every value quoted.
 */
void np_greeter_detect(struct np_signin *s, char *why, size_t why_size);

/*
 * Whether text names an X display: "[HOST]:DISPLAY[.SCREEN]", the numbers in
 * digits, the host of letters, digits and ".-_:" (an IPv6 address).
 */
bool np_greeter_is_x_display(const char *text);

/*
 * The greeter flow's first step, before the helper starts and the sign-in's
 * time runs: who signs in to what, and a prompt "Press Enter to get a sign-in
 * code".  Answering it is what lets the greeter start the session by itself
 * after the approval, and no code is made for a name typed by nobody's
 * intent.  What is typed there is dropped.  PAM_SUCCESS, or the conversation's
 * failure.
 */
int np_greeter_ready(struct np_signin *s);

#endif
