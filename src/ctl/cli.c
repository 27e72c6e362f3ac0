/* SPDX-License-Identifier: BSD-2-Clause */
#include "ctl/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/sanitize.h"

#define MESSAGE_MAX 2048

/* ---- command line ---- */

static const struct np_ctl_option *find_option(const struct np_ctl_option *opts, size_t n_opts,
                                               const char *arg, size_t name_len)
{
	for (size_t i = 0; i < n_opts; i++)
		if (strlen(opts[i].name) == name_len && strncmp(opts[i].name, arg, name_len) == 0)
			return &opts[i];
	return NULL;
}

/*
 * Handles one "--name[=value]" at argv[*i]; may consume the next word as the
 * value.  0, or -1 once a usage error is on stderr.
 */
static int parse_option(int argc, char **argv, int *i,
                                             const struct np_ctl_option *opts, size_t n_opts)
{
	const char *arg = argv[*i];
	const char *eq = strchr(arg, '=');
	size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	const struct np_ctl_option *opt = find_option(opts, n_opts, arg, name_len);
	const char *value = eq != NULL ? eq + 1 : NULL;

	if (opt == NULL) {
		np_ctl_usage_error(argv[0], "unknown option %.*s", (int)(name_len > 64 ? 64 : name_len),
		                   arg);
		return -1;
	}
	if (value == NULL) {
		if (*i + 1 >= argc) {
			np_ctl_usage_error(argv[0], "%s needs a value", opt->name);
			return -1;
		}
		value = argv[++*i];
	}
	if (*opt->value != NULL) {
		np_ctl_usage_error(argv[0], "%s is given twice", opt->name);
		return -1;
	}
	if (value[0] == '\0') {
		np_ctl_usage_error(argv[0], "%s needs a value", opt->name);
		return -1;
	}
	*opt->value = value;
	return 0;
}

/* Whether argv[i] is one of flags, which it then sets; -1 once a usage error is on stderr. */
static int parse_flag(char **argv, int i, const struct np_ctl_flag *flags, size_t n_flags)
{
	const char *arg = argv[i];
	size_t name_len = strcspn(arg, "=");

	for (size_t f = 0; f < n_flags; f++) {
		if (strlen(flags[f].name) != name_len || strncmp(flags[f].name, arg, name_len) != 0)
			continue;
		if (arg[name_len] == '=') {
			np_ctl_usage_error(argv[0], "%s takes no value", flags[f].name);
			return -1;
		}
		if (*flags[f].given) {
			np_ctl_usage_error(argv[0], "%s is given twice", flags[f].name);
			return -1;
		}
		*flags[f].given = true;
		return 1;
	}
	return 0;
}

int np_ctl_parse_args(int argc, char **argv, const struct np_ctl_syntax *syntax,
                      size_t *n_operands)
{
	return np_ctl_parse_args_and_flags(argc, argv, syntax, NULL, 0, n_operands);
}

int np_ctl_parse_args_and_flags(int argc, char **argv, const struct np_ctl_syntax *syntax,
                                const struct np_ctl_flag *flags, size_t n_flags,
                                size_t *n_operands)
{
	bool options_end = false;

	*n_operands = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_end && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			fputs(syntax->help, stdout);
			return NP_CTL_EXIT_OK;
		}
		if (!options_end && strcmp(arg, "--") == 0) {
			options_end = true;
		} else if (!options_end && arg[0] == '-' && arg[1] != '\0') {
			int flag = parse_flag(argv, i, flags, n_flags);

			if (flag < 0 ||
			    (flag == 0 && parse_option(argc, argv, &i, syntax->opts, syntax->n_opts) != 0))
				return NP_CTL_EXIT_USAGE;
		} else if (*n_operands < syntax->max_operands) {
			syntax->operands[(*n_operands)++] = arg;
		} else {
			np_ctl_usage_error(argv[0], "unexpected argument \"%.64s\"", arg);
			return NP_CTL_EXIT_USAGE;
		}
	}
	return -1;
}

static void print_sanitised(FILE *out, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Whatever reaches the terminal may hold text from files or the network: sanitise it. */
static void print_sanitised(FILE *out, const char *prefix, const char *fmt, va_list ap)
{
	char raw[MESSAGE_MAX];
	char clean[MESSAGE_MAX];

	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): every caller va_start()s ap */
	vsnprintf(raw, sizeof raw, fmt, ap);
	np_sanitize_str(clean, sizeof clean, raw);
	fprintf(out, "%s%s\n", prefix, clean);
}

int np_ctl_usage_error(const char *command, const char *fmt, ...)
{
	char prefix[128];
	va_list ap;

	snprintf(prefix, sizeof prefix, "%s %s: ", NP_CTL_PROGRAM, command);
	va_start(ap, fmt);
	print_sanitised(stderr, prefix, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s %s --help'.\n", NP_CTL_PROGRAM, command);
	return NP_CTL_EXIT_USAGE;
}

int np_ctl_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_sanitised(stderr, NP_CTL_PROGRAM ": ", fmt, ap);
	va_end(ap);
	return NP_CTL_EXIT_FAILED;
}

const char *np_ctl_column(const char *value, char *buf, size_t buf_size)
{
	np_sanitize_str(buf, buf_size, value);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ' ')
			*p = '_';
	if (buf[0] == '\0')
		snprintf(buf, buf_size, "-");
	return buf;
}

const char *np_ctl_time_text(int64_t t, char *buf, size_t buf_size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, buf_size, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
		snprintf(buf, buf_size, "-");
	return buf;
}

/* ---- settings ---- */

int np_ctl_absolute_path(const char *path, char *out, size_t out_size)
{
	char cwd[NP_CONFIG_PATH_MAX];
	int len;

	if (path[0] == '/')
		len = snprintf(out, out_size, "%s", path);
	else if (getcwd(cwd, sizeof cwd) != NULL)
		len = snprintf(out, out_size, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
	else
		return -1;
	return len > 0 && (size_t)len < out_size ? 0 : -1;
}

int np_ctl_load_config(struct np_config *cfg, const char *path, char *err, size_t err_size)
{
	char arg[NP_CONFIG_PATH_MAX + 8] = "config=";
	const char *argv[1] = { arg };

	if (path == NULL)
		return np_config_load(cfg, 0, argv, err, err_size);
	if (np_ctl_absolute_path(path, arg + 7, sizeof arg - 7) != 0) {
		snprintf(err, err_size, "%s: path too long, or the current directory is unknown",
		         path);
		return -1;
	}
	return np_config_load(cfg, 1, argv, err, err_size);
}

/* ---- signals ---- */

void np_ctl_signals_block(struct np_ctl_signals *s)
{
	sigemptyset(&s->watched);
	sigaddset(&s->watched, SIGINT);
	sigaddset(&s->watched, SIGTERM);
	sigaddset(&s->watched, SIGHUP);
	sigaddset(&s->watched, SIGQUIT);
	s->blocked = sigprocmask(SIG_BLOCK, &s->watched, &s->saved_mask) == 0;
}

void np_ctl_signals_restore(struct np_ctl_signals *s)
{
	if (s->blocked)
		(void)sigprocmask(SIG_SETMASK, &s->saved_mask, NULL);
	s->blocked = false;
}

/* Takes a pending watched signal, if there is one. */
static bool signal_arrived(void *ctx)
{
	const struct np_ctl_signals *s = ctx;
	const struct timespec no_wait = { 0, 0 };

	return s->blocked && sigtimedwait(&s->watched, NULL, &no_wait) > 0;
}

/* Information for the administrator: a line buffered stdout shows it at once. */
static int print_info(void *ctx, const char *text)
{
	(void)ctx;
	puts(text);
	return 0;
}

void np_ctl_client_io(struct np_client_io *io, struct np_ctl_signals *signals)
{
	*io = (struct np_client_io){
		.show = print_info,
		.interrupted = signal_arrived,
		.ctx = signals,
		.detailed = true,
	};
}
