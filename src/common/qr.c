/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/qr.h"

#include <string.h>

#ifdef NP_HAVE_QRENCODE
#include <qrencode.h>

/* Four modules of white around the code, as the standard asks. */
#define QUIET_ZONE 4

static const char *const glyphs[4] = {
	" ",            /* both dark */
	"\xe2\x96\x84", /* upper dark, lower light: lower half block */
	"\xe2\x96\x80", /* upper light, lower dark: upper half block */
	"\xe2\x96\x88", /* both light: full block */
};

static int light(const QRcode *qr, int x, int y)
{
	int size = qr->width;

	x -= QUIET_ZONE;
	y -= QUIET_ZONE;
	if (x < 0 || y < 0 || x >= size || y >= size)
		return 1;
	return (qr->data[y * size + x] & 1) == 0;
}

int np_qr_render(const char *text, char *out, size_t out_size, int *n_lines)
{
	/* Low error correction keeps the code small enough for an 80-column terminal. */
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	size_t used = 0;
	int full, rc = -1;

	*n_lines = 0;
	if (qr == NULL)
		return -1;
	full = qr->width + 2 * QUIET_ZONE;
	if (full > 78 || (full + 1) / 2 > NP_QR_LINES_MAX)
		goto out;
	for (int y = 0; y < full; y += 2) {
		for (int x = 0; x < full; x++) {
			int index = light(qr, x, y) << 1 | (y + 1 < full ? light(qr, x, y + 1) : 0);
			size_t len = strlen(glyphs[index]);

			if (used + len + 2 > out_size)
				goto out;
			memcpy(out + used, glyphs[index], len);
			used += len;
		}
		out[used++] = '\n';
		(*n_lines)++;
	}
	out[used] = '\0';
	rc = 0;
out:
	QRcode_free(qr);
	if (rc != 0) {
		*n_lines = 0;
		if (out_size > 0)
			out[0] = '\0';
	}
	return rc;
}

#else

int np_qr_render(const char *text, char *out, size_t out_size, int *n_lines)
{
	(void)text;
	*n_lines = 0;
	if (out_size > 0)
		out[0] = '\0';
	return -1;
}

#endif
