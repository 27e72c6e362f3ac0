/* SPDX-License-Identifier: BSD-2-Clause */
/* Time that only moves forward: deadlines must not jump with the wall clock. */
#ifndef NP_CLOCK_H
#define NP_CLOCK_H

/* CLOCK_MONOTONIC in milliseconds. */
long long np_monotonic_ms(void);

#endif
