/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shape checks for values that arrive from the network.  Both the helper
 * (which reads the API) and the module (which reads the helper) apply them,
 * so a compromised helper cannot hand the module anything the API could not.
 */
#ifndef NP_VALIDATE_H
#define NP_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define NP_CODE_MAX 16        /* device code, characters */
#define NP_URL_MAX 256        /* verification URL, bytes */
#define NP_HOST_MAX 253       /* a DNS name, bytes */
#define NP_TOKEN_MAX 8192     /* session JWT, bytes */
#define NP_USER_ID_MAX 128
#define NP_EMAIL_MAX 254
#define NP_NAME_MAX 128
#define NP_STATUS_MAX 32
#define NP_API_KEY_MAX 256

/* A device code: 4 to 16 ASCII letters and digits, nothing that could change a URL path. */
bool np_valid_code(const char *s, size_t len);

/*
 * An https:// URL of printable ASCII without spaces or backslashes, at most
 * NP_URL_MAX bytes, whose authority (up to the first '/', '?' or '#') is a
 * host (np_valid_host) and an optional :port (1-65535): no user information
 * ("@"), no percent-escapes, nothing a browser could read as another host.
 */
bool np_valid_https_url(const char *s, size_t len);

/*
 * A plain host: a DNS name (labels of letters, digits and '-', not starting or
 * ending with '-', no empty label, at most NP_HOST_MAX bytes), an IPv4 address
 * as a dotted quad (a name ending in a number must be one), or an IPv6 address
 * in brackets.
 */
bool np_valid_host(const char *s, size_t len);

/* The host of a URL that np_valid_https_url() accepts, as written; false otherwise. */
bool np_url_host(const char *s, size_t len, char *host, size_t host_size);

/*
 * Where the authority would be in any text (after "://", or from the start,
 * up to '/', '?' or '#'): sets *start and returns the length.  Not validated:
 * for naming a refused URL in a log, sanitised and quoted.
 */
size_t np_url_authority(const char *s, size_t len, const char **start);

/* A JWT-shaped token: base64url characters and dots. */
bool np_valid_token(const char *s, size_t len);

/* A NextPay user id: letters, digits, '_' and '-'. */
bool np_valid_user_id(const char *s, size_t len);

/* An e-mail address: printable ASCII, no spaces, exactly one '@' with text on both sides. */
bool np_valid_email(const char *s, size_t len);

/* A status word from the API: short, letters, digits, '_' and '-'. */
bool np_valid_status(const char *s, size_t len);

/* A NextPay API key as typed: "npk_" then printable ASCII without spaces. */
bool np_valid_api_key(const char *s, size_t len);

#endif
