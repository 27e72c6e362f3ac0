/* SPDX-License-Identifier: BSD-2-Clause */
/* The verification URL as a QR code, for a phone held up to the terminal. */
#ifndef NP_QR_H
#define NP_QR_H

#include <stddef.h>

#define NP_QR_LINES_MAX 40

/*
 * Draws text as a QR code with plain Unicode half blocks (no colour escapes,
 * which the OpenSSH client would mangle), two module rows per line, light
 * modules and the quiet zone drawn, dark ones blank: right on the usual
 * light-on-dark terminal.  Lines are written to out one after another, each
 * ending in '\n'; *n_lines says how many.  Returns 0, or -1 when QR support
 * is not built in, the text does not fit, or out is too small.
 */
int np_qr_render(const char *text, char *out, size_t out_size, int *n_lines);

#endif
