/*
 * The words a person reads while signing in, shared by the module and
 * nextpayctl login so both say the same thing.
 */
#ifndef NP_WORDING_H
#define NP_WORDING_H

#include <stddef.h>

#include "protocol.h"

/* Untrusted text made safe (np_sanitize) and cut with "..." where it would not fit. */
void np_shorten(char *dst, size_t dst_size, const char *src);

/* "110 seconds" below two minutes, "5 minutes" above. */
void np_format_lifetime(char *out, size_t out_size, long long seconds);

/*
 * The instructions: host and account (already shortened), the URL, the code
 * and how long it lives, then last_line ("Press Enter ..." or "Waiting ...").
 */
void np_format_instructions(char *out, size_t out_size, const char *host, const char *account,
                            const struct np_msg_code *code, long long seconds_left,
                            const char *last_line);

/* "Still waiting for approval of code X (N seconds left)..." */
void np_format_progress(char *out, size_t out_size, const struct np_msg_code *code,
                        long long seconds_left);

#endif
