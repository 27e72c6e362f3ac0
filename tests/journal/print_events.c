/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prints every type of event of the code's table, one
 * "event<TAB>result<TAB>MESSAGE_ID<TAB>priority" a line ("-" for no result),
 * so that tests/journal/journal_test.py and tests/man/man_test.py can hold
 * the journal, the catalog and pam_nextpay(8) to the code.
 */
#include <stdio.h>

#include "common/events.h"

int main(void)
{
	size_t n = 0;
	const struct np_event_type *types = np_event_types(&n);

	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\t%s\t%d\n", types[i].name, types[i].result != NULL ? types[i].result : "-",
		       types[i].message_id, types[i].priority);
	return fflush(stdout) == 0 ? 0 : 1;
}
