/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading the NextPay API's answers (docs/PROTOCOL.md names the endpoints).  Pure
 * functions over a response body, so they can be unit-tested and fuzzed
 * without a network.  Everything is checked for type and shape; a body that
 * breaks the contract is refused as a whole.
 */
#ifndef NP_API_PARSE_H
#define NP_API_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"

/* POST /auth/device-code, 200: {"code", "verification_url", "expires_at"}. */
int np_api_parse_device_code(const char *body, size_t len, struct np_msg_code *out, char *err,
                             size_t err_size);

enum np_poll_state {
	NP_POLL_PENDING,
	NP_POLL_APPROVED, /* token filled */
	NP_POLL_FINAL,    /* any other status: status filled (sanitised) */
};

/* GET /auth/device-code/{code}, 200: {"status", "token"?}. */
int np_api_parse_poll(const char *body, size_t len, enum np_poll_state *state, char *token,
                      size_t token_size, char *status, size_t status_size, char *err,
                      size_t err_size);

/* POST /auth/token, 200: {"ok": true, "data": {"token", "user_id"}}. */
int np_api_parse_token(const char *body, size_t len, char *token, size_t token_size, char *err,
                       size_t err_size);

/* GET /auth/me, 200: {"ok": true, "data": {"id", "email", "name"}}.  Leaves out->token alone. */
int np_api_parse_me(const char *body, size_t len, struct np_msg_identity *out, char *err,
                    size_t err_size);

/*
 * The "exp" claim of a JWT's payload, read without verifying anything (the
 * server alone decides validity); 0 when absent or unreadable.
 */
int64_t np_jwt_exp(const char *token);

#endif
