/* SPDX-License-Identifier: BSD-2-Clause */
#include "helper/http.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define AUTH_HEADER_MAX (NP_TOKEN_MAX + 64)

static size_t collect_body(char *data, size_t size, size_t count, void *user)
{
	struct np_http *h = user;
	size_t len = size * count;

	/* Stop reading at the cap instead of trusting Content-Length. */
	if (len > NP_HTTP_BODY_MAX - h->body_len) {
		h->body_overflow = true;
		return 0;
	}
	memcpy(h->body + h->body_len, data, len);
	h->body_len += len;
	return len;
}

#define SETOPT(h, opt, value) \
	do { \
		if (curl_easy_setopt((h)->curl, opt, value) != CURLE_OK) \
			failed = #opt; \
	} while (0)

int np_http_init(struct np_http *h, const struct np_msg_config *cfg, const char *ca_pem,
                 size_t ca_len, char *err, size_t err_size)
{
	const char *failed = NULL;

	memset(h, 0, sizeof *h);
	if (strncmp(cfg->api_url, "https://", 8) != 0) {
		snprintf(err, err_size, "api_url is not https");
		return -1;
	}
	snprintf(h->base_url, sizeof h->base_url, "%s", cfg->api_url);
	h->body = sodium_malloc(NP_HTTP_BODY_MAX + 1);
	h->curl = curl_easy_init();
	if (h->body == NULL || h->curl == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* An empty proxy disables proxies, environment variables included. */
	SETOPT(h, CURLOPT_PROXY, cfg->proxy);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	/* Set again before each request, to what is left of its call's budget. */
	h->connect_timeout_ms = (long)cfg->connect_timeout * 1000;
	h->request_timeout_ms = (long)cfg->request_timeout * 1000;
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)NP_HTTP_BODY_MAX);
	SETOPT(h, CURLOPT_WRITEFUNCTION, collect_body);
	SETOPT(h, CURLOPT_WRITEDATA, h);
	SETOPT(h, CURLOPT_ERRORBUFFER, h->curl_error);
	SETOPT(h, CURLOPT_USERAGENT, "pam_nextpay/" NP_VERSION);
	SETOPT(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	if (cfg->pinned_pubkey[0] != '\0')
		SETOPT(h, CURLOPT_PINNEDPUBLICKEY, cfg->pinned_pubkey);
	if (ca_pem != NULL) {
		struct curl_blob blob = { .data = (void *)(uintptr_t)ca_pem, .len = ca_len,
		                          .flags = CURL_BLOB_COPY };

		SETOPT(h, CURLOPT_CAINFO_BLOB, &blob);
		/* Trust only the configured bundle, not a CA directory on top of it. */
		SETOPT(h, CURLOPT_CAPATH, (char *)NULL);
	}
	if (failed != NULL) {
		snprintf(err, err_size, "libcurl refused %s", failed);
		return -1;
	}
	return 0;
}

static enum np_http_result classify(CURLcode code, const struct np_http *h)
{
	switch (code) {
	case CURLE_OK:
		return NP_HTTP_OK;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return NP_HTTP_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return NP_HTTP_TOO_LARGE;
	/* Nothing at the other end: no name, no route, nobody listening (or the proxy's word). */
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return NP_HTTP_UNREACHABLE;
	/* Connecting, resolving or the transfer ran out of time: the API is stalled. */
	case CURLE_OPERATION_TIMEDOUT:
		return NP_HTTP_TIMEOUT;
	case CURLE_WRITE_ERROR:
		return h->body_overflow ? NP_HTTP_TOO_LARGE : NP_HTTP_FAILED;
	/* Mostly a connection reset mid-handshake; certificate trouble has codes of its own. */
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return NP_HTTP_TRANSIENT;
	default:
		return NP_HTTP_FAILED;
	}
}

static void free_headers(struct curl_slist *headers)
{
	/* curl_slist_free_all does not wipe, and one header may carry a secret. */
	for (struct curl_slist *item = headers; item != NULL; item = item->next)
		sodium_memzero(item->data, strlen(item->data));
	curl_slist_free_all(headers);
}

static struct curl_slist *build_headers(const char *bearer, bool has_body)
{
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	char auth[AUTH_HEADER_MAX];

	if (headers != NULL && has_body) {
		struct curl_slist *more = curl_slist_append(headers, "Content-Type: application/json");

		if (more == NULL)
			goto fail;
		headers = more;
	}
	/* Suppress "Expect: 100-continue", which only adds a round trip. */
	if (headers != NULL && has_body) {
		struct curl_slist *more = curl_slist_append(headers, "Expect:");

		if (more == NULL)
			goto fail;
		headers = more;
	}
	if (headers != NULL && bearer != NULL) {
		struct curl_slist *more;

		if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer) >=
		    sizeof auth)
			goto fail;
		more = curl_slist_append(headers, auth);
		sodium_memzero(auth, sizeof auth);
		if (more == NULL)
			goto fail;
		headers = more;
	}
	return headers;
fail:
	sodium_memzero(auth, sizeof auth);
	free_headers(headers);
	return NULL;
}

enum np_http_result np_http_request(struct np_http *h, const char *method, const char *path,
                                    const char *bearer, const char *json_body, long timeout_ms,
                                    struct np_http_response *resp, char *detail,
                                    size_t detail_size)
{
	char url[NP_PROTO_TEXT_MAX + 128];
	struct curl_slist *headers = build_headers(bearer, json_body != NULL);
	enum np_http_result result = NP_HTTP_FAILED;
	curl_off_t retry_after = 0;
	CURLcode code;

	resp->status = 0;
	resp->retry_after = 0;
	np_http_wipe_body(h);
	h->curl_error[0] = '\0';
	if (headers == NULL ||
	    (size_t)snprintf(url, sizeof url, "%s%s", h->base_url, path) >= sizeof url) {
		snprintf(detail, detail_size, "cannot build the request");
		goto out;
	}
	/* 0 would mean no limit at all. */
	if (timeout_ms < 1)
		timeout_ms = 1;
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 h->connect_timeout_ms < timeout_ms ? h->connect_timeout_ms : timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, json_body != NULL ? json_body : "");
	} else {
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	}
	code = curl_easy_perform(h->curl);
	h->body[h->body_len] = '\0';
	result = classify(code, h);
	if (result == NP_HTTP_OK) {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		    retry_after > 0)
			resp->retry_after = retry_after > 3600 ? 3600 : (long)retry_after;
	} else if (result == NP_HTTP_TOO_LARGE) {
		snprintf(detail, detail_size, "response larger than %d bytes", NP_HTTP_BODY_MAX);
	} else {
		snprintf(detail, detail_size, "curl error %d: %s", (int)code,
		         h->curl_error[0] != '\0' ? h->curl_error : curl_easy_strerror(code));
	}
out:
	/* Do not leave a pointer to the freed header list (or a stale body) in the handle. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, (char *)NULL);
	free_headers(headers);
	return result;
}

void np_http_wipe_body(struct np_http *h)
{
	if (h->body != NULL)
		sodium_memzero(h->body, NP_HTTP_BODY_MAX + 1);
	h->body_len = 0;
	h->body_overflow = false;
}

void np_http_cleanup(struct np_http *h)
{
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	if (h->body != NULL)
		sodium_free(h->body);
	memset(h, 0, sizeof *h);
}
