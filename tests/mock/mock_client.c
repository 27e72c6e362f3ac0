/* SPDX-License-Identifier: BSD-2-Clause */
#include "mock_client.h"

#include <curl/curl.h>
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How often mock_wait_ready() looks. */
#define READY_POLL_MS 50

void mock_at(struct mock *m, const char *dir)
{
	memset(m, 0, sizeof *m);
	snprintf(m->dir, sizeof m->dir, "%s", dir);
	snprintf(m->ca, sizeof m->ca, "%s/ca.crt", m->dir);
}

/* The first line of DIR/name, or "". */
static void read_small(const struct mock *m, const char *name, char *out, size_t out_size)
{
	char path[700];
	FILE *f;
	size_t n;

	out[0] = '\0';
	snprintf(path, sizeof path, "%s/%s", m->dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	n = fread(out, 1, out_size - 1, f);
	out[n] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

/* Whether the owner's mock process has exited (looked at without reaping it). */
static bool exited(const struct mock *m)
{
	siginfo_t info;

	memset(&info, 0, sizeof info);
	return m->pid > 0 &&
	       waitid(P_PID, (id_t)m->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == m->pid;
}

int mock_find(struct mock *m)
{
	char port[32];

	read_small(m, "port", port, sizeof port);
	if (port[0] == '\0')
		return -1;
	snprintf(m->url, sizeof m->url, "https://127.0.0.1:%s/v1", port);
	read_small(m, "pin", m->pin, sizeof m->pin);
	read_small(m, "otherpin", m->otherpin, sizeof m->otherpin);
	return 0;
}

int mock_wait_ready(struct mock *m, int timeout_ms)
{
	const struct timespec pause = { 0, READY_POLL_MS * 1000L * 1000L };

	for (int waited = 0;; waited += READY_POLL_MS) {
		if (exited(m)) {
			fprintf(stderr, "mock in %s: exited before it was ready\n", m->dir);
			return -1;
		}
		if (mock_find(m) == 0 && mock_request(m, "stats", NULL, NULL) == 200)
			return 0;
		if (waited >= timeout_ms) {
			fprintf(stderr, "mock in %s: not ready after %d ms\n", m->dir, timeout_ms);
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

struct body {
	char *data;
	size_t len;
};

static size_t collect(char *data, size_t size, size_t count, void *user)
{
	struct body *b = user;
	size_t len = size * count;
	char *grown = realloc(b->data, b->len + len + 1);

	if (grown == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

long mock_request(const struct mock *m, const char *name, const char *json, char **out)
{
	char url[512];
	const char *v1 = strstr(m->url, "/v1");
	CURL *curl = curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	struct body b = { NULL, 0 };
	long status = 0;

	if (out != NULL)
		*out = NULL;
	if (curl == NULL || headers == NULL || v1 == NULL) {
		curl_slist_free_all(headers);
		curl_easy_cleanup(curl);
		return 0;
	}
	snprintf(url, sizeof url, "%.*s/_mock/%s", (int)(v1 - m->url), m->url, name);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	/*
	 * Control requests must reach every mock, also the ones that serve a
	 * certificate for another name or an expired one: what is under test is the
	 * helper's verification, not this client's.  The mock is on 127.0.0.1 at the
	 * port it wrote into its own directory.
	 */
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	if (json != NULL)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (out != NULL)
		*out = b.data;
	else
		free(b.data);
	return status;
}

long mock_post(const struct mock *m, const char *name, const char *json)
{
	return mock_request(m, name, json, NULL);
}

char *mock_stats(const struct mock *m)
{
	char *text = NULL;

	if (mock_request(m, "stats", NULL, &text) != 200) {
		free(text);
		return NULL;
	}
	return text;
}

/* The stats, parsed (release with json_object_put), or NULL. */
static struct json_object *stats_object(const struct mock *m)
{
	char *text = mock_stats(m);
	struct json_object *stats = text != NULL ? json_tokener_parse(text) : NULL;

	free(text);
	return stats;
}

long mock_count(const struct mock *m, const char *what)
{
	struct json_object *stats = stats_object(m);
	struct json_object *requests = NULL, *value = NULL;
	long count = -1;

	if (stats != NULL) {
		if (json_object_object_get_ex(stats, what, &value))
			count = (long)json_object_get_int64(value);
		else if (json_object_object_get_ex(stats, "requests", &requests) &&
		         json_object_object_get_ex(requests, what, &value))
			count = (long)json_object_get_int64(value);
	}
	json_object_put(stats);
	return count;
}

void mock_last_code(const struct mock *m, char *out, size_t out_size)
{
	struct json_object *stats = stats_object(m);
	struct json_object *codes = NULL, *code = NULL;
	size_t n;

	out[0] = '\0';
	if (stats != NULL && json_object_object_get_ex(stats, "codes", &codes) &&
	    (n = json_object_array_length(codes)) > 0 &&
	    json_object_object_get_ex(json_object_array_get_idx(codes, n - 1), "code", &code))
		snprintf(out, out_size, "%s", json_object_get_string(code));
	json_object_put(stats);
}

bool mock_bodies_contain(const struct mock *m, const char *needle)
{
	struct json_object *stats = stats_object(m);
	struct json_object *log = NULL, *body = NULL;
	bool found = false;

	if (stats != NULL && json_object_object_get_ex(stats, "log", &log)) {
		for (size_t i = 0; i < json_object_array_length(log); i++)
			if (json_object_object_get_ex(json_object_array_get_idx(log, i), "body", &body) &&
			    strstr(json_object_get_string(body), needle) != NULL)
				found = true;
	}
	json_object_put(stats);
	return found;
}

bool mock_last_bearer(const struct mock *m, const char *endpoint, char *out, size_t out_size)
{
	struct json_object *stats = stats_object(m);
	struct json_object *log = NULL, *field = NULL;
	bool found = false;

	out[0] = '\0';
	if (stats != NULL && json_object_object_get_ex(stats, "log", &log)) {
		for (size_t i = 0; i < json_object_array_length(log); i++) {
			struct json_object *entry = json_object_array_get_idx(log, i);
			const char *auth;

			if (!json_object_object_get_ex(entry, "endpoint", &field) ||
			    strcmp(json_object_get_string(field), endpoint) != 0 ||
			    !json_object_object_get_ex(entry, "authorization", &field) ||
			    (auth = json_object_get_string(field)) == NULL ||
			    strncmp(auth, "Bearer ", 7) != 0)
				continue;
			snprintf(out, out_size, "%s", auth + 7);
			found = true;
		}
	}
	json_object_put(stats);
	return found;
}
