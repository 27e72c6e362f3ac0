/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/wording.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/sanitize.h"

#define SHORTEN_INPUT_MAX 1024

void np_shorten(char *dst, size_t dst_size, const char *src)
{
	char clean[SHORTEN_INPUT_MAX * 4 + 1];
	size_t len = np_sanitize_str(clean, sizeof clean, src);

	if (dst_size == 0)
		return;
	if (len < dst_size) {
		memcpy(dst, clean, len + 1);
		return;
	}
	/* Too small even for "...": the cut text alone. */
	if (dst_size < 4) {
		np_sanitize(dst, dst_size, clean, len);
		return;
	}
	np_sanitize(dst, dst_size - 3, clean, len);
	/* NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy): room left above */
	strcat(dst, "...");
}

void np_format_lifetime(char *out, size_t out_size, long long seconds)
{
	if (seconds < 120)
		snprintf(out, out_size, "%lld seconds", seconds);
	else
		snprintf(out, out_size, "%lld minutes", (seconds + 30) / 60);
}

void np_host_shown(char *out, size_t out_size)
{
	char host[256] = "";

	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "this host");
	host[sizeof host - 1] = '\0';
	np_shorten(out, out_size, host);
}

void np_service_word(char *out, size_t out_size, const char *service)
{
	np_shorten(out, out_size, strcmp(service, "sshd") == 0 ? "ssh" : service);
}

void np_format_who(char *out, size_t out_size, const struct np_instructions *in)
{
	snprintf(out, out_size, "NextPay sign-in to %s as %s (%s%s%s).", in->host, in->account,
	         in->service, in->rhost[0] != '\0' ? " from " : "", in->rhost);
}

void np_format_instructions(char *out, size_t out_size, const struct np_instructions *in)
{
	char who[NP_WHO_MAX];
	char lifetime[32];

	np_format_who(who, sizeof who, in);
	np_format_lifetime(lifetime, sizeof lifetime, in->seconds_left);
	snprintf(out, out_size,
	         "%s\n"
	         "Open %s\n"
	         "and approve code %s (valid for %s).\n"
	         "Approve only if you started this sign-in yourself.\n"
	         "%s",
	         who, in->code->verification_url, in->code->code, lifetime, in->last_line);
}

void np_format_progress(char *out, size_t out_size, const struct np_msg_code *code,
                        long long seconds_left)
{
	char lifetime[32];

	np_format_lifetime(lifetime, sizeof lifetime, seconds_left);
	snprintf(out, out_size, "Still waiting for approval of code %s (%s left)...", code->code,
	         lifetime);
}
