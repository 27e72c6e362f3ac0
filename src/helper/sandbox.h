/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The helper's system call filter (seccomp, through libseccomp).
 *
 * Entered once the helper has read its configuration, dropped its
 * privileges and set up libcurl: from then on it may only do what DNS, TLS
 * and its two pipes need.  Any other system call kills it at once
 * (SIGSYS), which the module reports as an unavailable helper.
 */
#ifndef NP_SANDBOX_H
#define NP_SANDBOX_H

#include <stddef.h>

#include <stdbool.h>

/* Returns 0 with the filter in force (for good, in every thread to come), or -1 with err set. */
int np_sandbox_enter(char *err, size_t err_size);

/*
 * True only in AddressSanitizer builds (make check-asan): there the filter
 * also lets the sanitizer runtime do what a report takes (write its log
 * file, start a symbolizer, stop threads for LeakSanitizer), or a memory
 * error in the helper would end as a silent SIGSYS instead of a report.
 */
bool np_sandbox_relaxed_for_sanitizers(void);

#endif
