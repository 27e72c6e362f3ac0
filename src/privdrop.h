/* The helper gives up root before it touches the network. */
#ifndef NP_PRIVDROP_H
#define NP_PRIVDROP_H

#include <stddef.h>

/*
 * When any of the real, effective or saved ids is root, becomes user (and its
 * primary group only) for good and checks root cannot be regained.  When not
 * root, changes nothing.  Refuses a user that is itself uid 0.  Returns 0, or
 * -1 with err set.
 */
int np_drop_privileges(const char *user, char *err, size_t err_size);

#endif
