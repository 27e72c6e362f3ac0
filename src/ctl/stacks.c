/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which PAM stacks use the module with a given configuration file: the auth
 * lines of /etc/pam.d that load pam_nextpay.so, split into words the way
 * libpam splits them (a [...] control is one word, a backslash at the end of
 * a line continues it).  Files are read as the module reads its own: regular
 * files only, never through a symbolic link.
 */
#include "ctl/ctl.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"

#define PAM_D "/etc/pam.d"
#define PAM_FILE_MAX (256 * 1024)
#define MODULE_FILE "pam_nextpay.so"
#define BLANKS " \t\r"

/* Copies left by package managers and editors: no service reads them. */
static bool is_leftover(const char *name)
{
	static const char *const marks[] = { ".dpkg-", ".ucf-", ".rpmnew", ".rpmsave", "~" };

	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
		if (strstr(name, marks[i]) != NULL)
			return true;
	return false;
}

/* The next word of *p, NUL-terminated in place; NULL at the end of the line. */
static char *next_word(char **p)
{
	char *word = *p + strspn(*p, BLANKS);
	char *end;

	if (*word == '\0')
		return NULL;
	end = word + strcspn(word, BLANKS);
	*p = *end != '\0' ? end + 1 : end;
	*end = '\0';
	return word;
}

/* Skips a control in brackets, which may hold blanks: "[success=1 default=ignore]". */
static bool skip_control(char **p, const char *first)
{
	if (first[0] != '[' || strchr(first, ']') != NULL)
		return true;
	for (const char *w = next_word(p); w != NULL; w = next_word(p))
		if (strchr(w, ']') != NULL)
			return true;
	return false;
}

/* Whether one line (comment gone) loads the module with the configuration config_path. */
static bool line_uses(char *line, const char *config_path)
{
	char *p = line;
	const char *type = next_word(&p);
	const char *control;
	const char *module;
	const char *config = NP_DEFAULT_CONFIG;
	const char *slash;

	if (type == NULL || strcmp(type[0] == '-' ? type + 1 : type, "auth") != 0)
		return false;
	control = next_word(&p);
	if (control == NULL || !skip_control(&p, control) || (module = next_word(&p)) == NULL)
		return false;
	slash = strrchr(module, '/');
	if (strcmp(slash != NULL ? slash + 1 : module, MODULE_FILE) != 0)
		return false;
	for (const char *arg = next_word(&p); arg != NULL; arg = next_word(&p))
		if (strncmp(arg, "config=", 7) == 0)
			config = arg + 7;
	return strcmp(config, config_path) == 0;
}

/* Counts the lines of one file's text that use the module; the first one's number in *first. */
static unsigned count_in_text(char *text, const char *config_path, unsigned *first)
{
	unsigned count = 0;
	unsigned line_no = 0;
	char *line = text;

	while (line != NULL && *line != '\0') {
		unsigned starts_at = ++line_no;
		char *end = strchr(line, '\n');
		char *next;

		/* A backslash before the newline joins the next line to this one. */
		while (end != NULL && end > line && end[-1] == '\\') {
			end[-1] = ' ';
			*end = ' ';
			end = strchr(end, '\n');
			line_no++;
		}
		next = end != NULL ? end + 1 : NULL;
		if (end != NULL)
			*end = '\0';
		line[strcspn(line, "#")] = '\0';
		if (line_uses(line, config_path) && count++ == 0)
			*first = starts_at;
		line = next;
	}
	return count;
}

unsigned np_ctl_stacks_using(const char *config_path, char *first, size_t first_size)
{
	DIR *dir = opendir(PAM_D);
	struct dirent *entry;
	unsigned count = 0;

	first[0] = '\0';
	if (dir == NULL)
		return 0;
	while ((entry = readdir(dir)) != NULL) {
		char path[sizeof PAM_D + 256];
		char err[512];
		char *text = NULL;
		size_t len = 0;
		unsigned line_no = 0;
		unsigned here;

		if (is_leftover(entry->d_name))
			continue;
		snprintf(path, sizeof path, "%s/%s", PAM_D, entry->d_name);
		if (np_file_read(path, 0, PAM_FILE_MAX, &text, &len, err, sizeof err) != NP_FILE_OK)
			continue;
		here = count_in_text(text, config_path, &line_no);
		if (here > 0 && count == 0)
			snprintf(first, first_size, "%s:%u", path, line_no);
		count += here;
		free(text);
	}
	closedir(dir);
	return count;
}
