/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prints every setting of the code's settings table with its built-in default,
 * one "key<TAB>default" a line (and "<TAB>argument" after a setting that only a
 * module argument may give), so that tests/man/man_test.py can hold
 * conf/pam_nextpay.conf and pam_nextpay.conf(5) to the code.
 */
#include <stdio.h>

#include "common/config.h"

static void print_one(const char *key, const char *value, void *ctx)
{
	(void)ctx;
	printf("%s\t%s%s\n", key, value, np_config_argument_only(key) ? "\targument" : "");
}

int main(void)
{
	np_config_each_default(print_one, NULL);
	return fflush(stdout) == 0 ? 0 : 1;
}
