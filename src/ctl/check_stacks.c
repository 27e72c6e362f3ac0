/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl check: the display managers' PAM stacks.  A greeter shows the
 * text of a prompt to nobody (LightDM's GTK greeter shows a message, never
 * the first prompt's words), so wait = prompt there leaves the person without
 * a code; wait = auto gives a greeter a flow of its own.  Each module line of
 * pam_nextpay.so that a display manager's stack reaches (through @include,
 * include and substack too) is loaded as the module would load it, its
 * configuration file included, and its wait mode reported.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/safe_file.h"
#include "ctl/ctl.h"

#define MODULE_NAME "pam_nextpay.so"
/* Deeper includes than this are a loop, or nothing a person set up. */
#define INCLUDE_DEPTH_MAX 8
#define STACK_FILE_MAX (64 * 1024)
#define WORDS_MAX 40

/* The services of display managers whose greeter asks for the password. */
static const char *const greeter_services[] = {
	"lightdm", "gdm-password", "sddm", "lxdm", "xdm", "slim", "kdm", "mdm",
};

struct walk {
	np_ctl_finding_fn *report;
	void *ctx;
	const char *pam_dir;
	const char *service;    /* the display manager's stack being walked */
};

static void walk_file(struct walk *w, const char *name, unsigned depth);

/*
 * Splits line (changed in place) into words as Linux-PAM does: white space
 * between them, "[...]" one word with its spaces (brackets dropped).
 * Returns how many, at most WORDS_MAX.
 */
static size_t split_words(char *line, char **words)
{
	size_t n = 0;
	char *p = line;

	while (n < WORDS_MAX) {
		char *end;

		p += strspn(p, " \t\r");
		if (*p == '\0' || *p == '#')
			break;
		if (*p == '[' && (end = strchr(p, ']')) != NULL) {
			words[n++] = p + 1;
			*end = '\0';
			p = end + 1;
			continue;
		}
		words[n++] = p;
		p += strcspn(p, " \t\r");
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

static bool is_module(const char *path)
{
	const char *slash = strrchr(path, '/');

	return strcmp(slash != NULL ? slash + 1 : path, MODULE_NAME) == 0;
}

static bool has_wait_argument(char **args, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(args[i], "wait=", 5) == 0)
			return true;
	return false;
}

/* One module line: its settings as the module loads them, and the wait mode they give. */
static void report_line(struct walk *w, const char *where, char **args, size_t n)
{
	static const char *const mode[] = { "auto", "prompt", "poll" };
	struct np_config *cfg = calloc(1, sizeof *cfg);
	bool on_line = has_wait_argument(args, n);
	char err[1024];
	char fix[2048];
	char text[4096];

	if (cfg == NULL)
		return;
	if (np_config_load(cfg, (int)n, (const char **)args, err, sizeof err) != 0) {
		snprintf(text, sizeof text, "display manager stack %s (%s): its settings do not load: %s",
		         w->service, where, err);
		w->report(w->ctx, true, "correct the module line or the file it names", text);
	} else if (cfg->wait == NP_WAIT_PROMPT) {
		if (on_line)
			snprintf(fix, sizeof fix, "remove wait=prompt from that line (wait = auto "
			         "gives a greeter a flow of its own)");
		else
			snprintf(fix, sizeof fix, "add wait=auto to that line, or set wait = auto in %s",
			         cfg->config_path);
		snprintf(text, sizeof text,
		         "display manager stack %s (%s): wait = prompt %s: a greeter shows no prompt's "
		         "text, so the person never sees the code",
		         w->service, where, on_line ? "on the module line" : "from its settings");
		w->report(w->ctx, true, fix, text);
	} else {
		snprintf(text, sizeof text, "display manager stack %s (%s): wait = %s", w->service,
		         where, mode[cfg->wait]);
		w->report(w->ctx, false, NULL, text);
	}
	free(cfg);
}

/*
 * One line of a stack file: an include to follow, a line of the module, or
 * neither.  The recursion through walk_file() is bounded by INCLUDE_DEPTH_MAX.
 */
static void walk_line(struct walk *w, char *line, const char *where, /* NOLINT(misc-no-recursion) */
                      unsigned depth)
{
	char *words[WORDS_MAX];
	size_t n = split_words(line, words);
	const char *type;

	if (n >= 2 && strcmp(words[0], "@include") == 0) {
		walk_file(w, words[1], depth + 1);
		return;
	}
	if (n < 3)
		return;
	type = words[0][0] == '-' ? words[0] + 1 : words[0];
	if (strcasecmp(type, "auth") != 0)
		return;
	if (strcmp(words[1], "include") == 0 || strcmp(words[1], "substack") == 0)
		walk_file(w, words[2], depth + 1);
	else if (is_module(words[2]))
		report_line(w, where, words + 3, n - 3);
}

static void walk_file(struct walk *w, const char *name, /* NOLINT(misc-no-recursion) */
                      unsigned depth)
{
	char path[NP_CONFIG_PATH_MAX];
	char where[NP_CONFIG_PATH_MAX + 32];
	char err[256];
	size_t len = 0;
	char *text = NULL;
	char *line;
	char *next;
	unsigned line_no = 0;

	if (depth > INCLUDE_DEPTH_MAX)
		return;
	if (name[0] == '/')
		snprintf(path, sizeof path, "%s", name);
	else
		snprintf(path, sizeof path, "%s/%s", w->pam_dir, name);
	/* Read as the module reads its own files: no symbolic link, root's, nobody else's to write. */
	if (np_file_read(path, 0, STACK_FILE_MAX, &text, &len, err, sizeof err) != NP_FILE_OK) {
		free(text);
		return;
	}
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line_no++;
		snprintf(where, sizeof where, "%s line %u", path, line_no);
		walk_line(w, line, where, depth);
	}
	free(text);
}

void np_ctl_check_greeter_stacks(const char *pam_dir, np_ctl_finding_fn *report, void *ctx)
{
	struct walk w = { .report = report, .ctx = ctx, .pam_dir = pam_dir };

	for (size_t i = 0; i < sizeof greeter_services / sizeof greeter_services[0]; i++) {
		w.service = greeter_services[i];
		walk_file(&w, greeter_services[i], 0);
	}
}
