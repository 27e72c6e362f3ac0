#include "conv.h"

#include <security/pam_appl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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
