/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The words a person reads while signing in, shared by the module and
 * nextpayctl login so both say the same thing.
 */
#ifndef NP_WORDING_H
#define NP_WORDING_H

#include <stddef.h>

#include "common/protocol.h"

/* Untrusted text made safe (np_sanitize) and cut with "..." where it would not fit. */
void np_shorten(char *dst, size_t dst_size, const char *src);

/* "110 seconds" below two minutes, "5 minutes" above. */
void np_format_lifetime(char *out, size_t out_size, long long seconds);

/* How much of each name the instructions show, in bytes. */
#define NP_ACCOUNT_SHOWN 32
#define NP_HOST_SHOWN 48
#define NP_SERVICE_WORD_SHOWN 32
#define NP_RHOST_SHOWN 64
/* Room for the longest instructions: every part at its limit, the QR code aside. */
#define NP_INSTRUCTIONS_MAX 1024

/* This host's name as the instructions show it (shortened), or "this host". */
void np_host_shown(char *out, size_t out_size);

/* The service as the approver knows it: "ssh" for sshd, else the PAM service name, shortened. */
void np_service_word(char *out, size_t out_size, const char *service);

/* What the instructions say; the strings are shortened already (np_shorten). */
struct np_instructions {
	const char *host;
	const char *account;
	const char *service;   /* np_service_word() */
	const char *rhost;     /* where the sign-in comes from, "" when nobody said */
	const struct np_msg_code *code;
	long long seconds_left;
	const char *last_line; /* "Press Enter ..." or "Waiting ..." */
};

/* Room for the instructions' first line, every name at its limit. */
#define NP_WHO_MAX 256
/* The instructions' first line: "NextPay sign-in to HOST as ACCOUNT (SERVICE from RHOST)." */
void np_format_who(char *out, size_t out_size, const struct np_instructions *in);

/*
 * What a greeter asks before any code exists, and after a refusal (the
 * prompt's text is these words and ": ", the information's ends in ".").
 */
#define NP_WORDS_GET_CODE "Press Enter to get a sign-in code"
#define NP_WORDS_START_AGAIN "Press Enter to start again"

/*
 * The instructions, one line each: who signs in to what from where, the URL,
 * the code and how long it lives, the warning to the approver, last_line.
 */
void np_format_instructions(char *out, size_t out_size, const struct np_instructions *in);

/* "Still waiting for approval of code X (N seconds left)..." */
void np_format_progress(char *out, size_t out_size, const struct np_msg_code *code,
                        long long seconds_left);

#endif
