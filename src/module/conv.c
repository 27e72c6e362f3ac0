/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/conv.h"

#include <fcntl.h>
#include <security/pam_appl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int converse(pam_handle_t *pamh, int style, const char *text,
                    struct pam_response **resp)
{
	const struct pam_conv *conv = NULL;
	struct pam_message msg = { .msg_style = style, .msg = text };
	const struct pam_message *msgs[1] = { &msg };
	int rc;

	*resp = NULL;
	rc = pam_get_item(pamh, PAM_CONV, (const void **)&conv);
	if (rc != PAM_SUCCESS || conv == NULL || conv->conv == NULL)
		return PAM_CONV_ERR;
	rc = conv->conv(1, msgs, resp, conv->appdata_ptr);
	return rc == PAM_SUCCESS ? PAM_SUCCESS : PAM_CONV_ERR;
}

static void free_response(struct pam_response *resp)
{
	if (resp == NULL)
		return;
	if (resp->resp != NULL) {
		sodium_memzero(resp->resp, strlen(resp->resp));
		free(resp->resp);
	}
	free(resp);
}

int np_conv_show(pam_handle_t *pamh, int style, const char *text)
{
	struct pam_response *resp = NULL;
	int rc = converse(pamh, style, text, &resp);

	free_response(resp);
	return rc;
}

/* Bytes of the next line (without its newline) that fit in room, not splitting a character. */
static size_t line_part(const char *line, size_t room)
{
	size_t len = strcspn(line, "\n");

	if (len <= room)
		return len;
	len = room;
	while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
		len--;
	return len > 0 ? len : room;
}

int np_conv_show_lines(pam_handle_t *pamh, int style, const char *text)
{
	char chunk[PAM_MAX_MSG_SIZE];
	size_t used = 0;

	while (*text != '\0') {
		size_t len = line_part(text, sizeof chunk - 1);

		if (used > 0 && used + 1 + len >= sizeof chunk) {
			if (np_conv_show(pamh, style, chunk) != PAM_SUCCESS)
				return PAM_CONV_ERR;
			used = 0;
		}
		if (used > 0)
			chunk[used++] = '\n';
		memcpy(chunk + used, text, len);
		used += len;
		chunk[used] = '\0';
		text += len;
		if (*text == '\n')
			text++;
	}
	if (used > 0 && np_conv_show(pamh, style, chunk) != PAM_SUCCESS)
		return PAM_CONV_ERR;
	return PAM_SUCCESS;
}

int np_conv_ask(pam_handle_t *pamh, const char *prompt, char *answer, size_t answer_size)
{
	struct pam_response *resp = NULL;
	int rc = converse(pamh, PAM_PROMPT_ECHO_OFF, prompt, &resp);
	size_t len;

	answer[0] = '\0';
	if (rc == PAM_SUCCESS && (resp == NULL || resp->resp == NULL))
		rc = PAM_CONV_ERR;
	if (rc == PAM_SUCCESS) {
		len = strlen(resp->resp);
		if (len >= answer_size)
			len = answer_size - 1;
		memcpy(answer, resp->resp, len);
		answer[len] = '\0';
	}
	free_response(resp);
	return rc;
}

bool np_conv_has_terminal(void)
{
	/* Opening /dev/tty fails (ENXIO) without one; a hung-up terminal shows nothing either. */
	int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}
