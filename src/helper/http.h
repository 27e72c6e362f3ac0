/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTPS requests to the NextPay API, for the helper only (libcurl never runs
 * inside the PAM host).  One handle, hence one connection, serves a whole
 * sign-in.  Only https, no redirects, no proxy but the configured one,
 * certificate and host name always verified, responses capped while they
 * arrive.
 */
#ifndef NP_HTTP_H
#define NP_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/protocol.h"

#define NP_HTTP_BODY_MAX (64 * 1024)

struct np_http {
	CURL *curl;
	char base_url[NP_PROTO_TEXT_MAX];
	char *body;        /* NP_HTTP_BODY_MAX + 1 bytes, NUL-terminated after a request */
	size_t body_len;
	bool body_overflow;
	char curl_error[CURL_ERROR_SIZE];
	long connect_timeout_ms;
	long request_timeout_ms; /* the time budget of one call, its retries included */
};

enum np_http_result {
	NP_HTTP_OK = 0,     /* a response arrived: look at the status */
	NP_HTTP_UNREACHABLE, /* not resolved, no connection made (refused, no route): retry */
	NP_HTTP_TRANSIENT,  /* reset or cut off once connected: failed fast, worth a retry */
	NP_HTTP_TIMEOUT,    /* no answer within the time allowed: not worth a retry */
	NP_HTTP_TLS,        /* untrusted certificate, wrong name, pin mismatch */
	NP_HTTP_TOO_LARGE,  /* the body passed NP_HTTP_BODY_MAX */
	NP_HTTP_FAILED,     /* anything else */
};

struct np_http_response {
	long status;
	long retry_after;  /* seconds from Retry-After, 0 if none */
};

/* ca_pem (may be NULL) replaces the system trust store. */
int np_http_init(struct np_http *h, const struct np_msg_config *cfg, const char *ca_pem,
                 size_t ca_len, char *err, size_t err_size);

/*
 * method "GET" or "POST"; path is appended to the API base; bearer (a secret,
 * may be NULL) goes only into the Authorization header; json_body may be NULL.
 * The whole exchange, connecting included, ends after timeout_ms (at least 1).
 * detail gets a short description of a failure, safe to log.
 */
enum np_http_result np_http_request(struct np_http *h, const char *method, const char *path,
                                    const char *bearer, const char *json_body, long timeout_ms,
                                    struct np_http_response *resp, char *detail,
                                    size_t detail_size);

/* Wipes the last response body (it may hold a token). */
void np_http_wipe_body(struct np_http *h);

void np_http_cleanup(struct np_http *h);

#endif
