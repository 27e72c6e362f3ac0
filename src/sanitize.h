/* Make untrusted text safe to show on a terminal or write to a log. */
#ifndef NP_SANITIZE_H
#define NP_SANITIZE_H

#include <stddef.h>

/*
 * Copies src (src_len bytes, which may contain NULs) into dst as a
 * NUL-terminated string with every control character removed: C0, DEL, the
 * C1 range and the Unicode bidirectional overrides.  Malformed UTF-8 bytes
 * become '?'.  Output is cut at a character boundary to fit dst_size.
 * Returns the length written (excluding the NUL).
 */
size_t np_sanitize(char *dst, size_t dst_size, const char *src, size_t src_len);

/* Same, for a NUL-terminated src; a NULL src gives "". */
size_t np_sanitize_str(char *dst, size_t dst_size, const char *src);

#endif
