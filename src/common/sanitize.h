/* SPDX-License-Identifier: BSD-2-Clause */
/* Make untrusted text safe to show on a terminal or write to a log. */
#ifndef NP_SANITIZE_H
#define NP_SANITIZE_H

#include <stddef.h>

/*
 * Copies src (src_len bytes, which may contain NULs) into dst as a
 * NUL-terminated string with every control character and every invisible
 * one removed: C0, DEL, the C1 range, the format characters (Unicode category
 * Cf: bidirectional controls, zero-width characters, tags ...), the line and
 * paragraph separators and the variation selectors.  Malformed UTF-8 bytes
 * become '?'.  Output is cut at a character boundary to fit dst_size.
 * Returns the length written (excluding the NUL).
 */
size_t np_sanitize(char *dst, size_t dst_size, const char *src, size_t src_len);

/* Same, for a NUL-terminated src; a NULL src gives "". */
size_t np_sanitize_str(char *dst, size_t dst_size, const char *src);

/*
 * The one way a value from outside goes into a log line: in double quotes,
 * '"' and '\' escaped with '\', every byte outside printable ASCII as \xHH,
 * so that no value can end its field or its line or pose as another field.
 * Cut with ..." where dst_size would not hold it; "" for a NULL src.  A
 * dst_size below 10 gives "".  Returns the length written.
 */
size_t np_log_quote(char *dst, size_t dst_size, const char *src);

#endif
