/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl: the administrator's tool of pam_nextpay.  It uses the module's
 * own code (settings, identity map, cache, helper) so that what it reports is
 * what the module will do; the network is reached only through nextpay-helper,
 * exactly as the module reaches it.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

#ifndef NP_VERSION
#define NP_VERSION "unknown"
#endif

static void print_usage(FILE *out)
{
	fprintf(out,
	        "Usage: " NP_CTL_PROGRAM " COMMAND [OPTIONS]\n"
	        "\n"
	        "The administrator's tool of pam_nextpay (NextPay sign-in for PAM).\n"
	        "\n"
	        "Commands:\n"
	        "  keygen [--key PATH]          create the approval cache key (mode 0600),\n"
	        "                               never overwriting an existing one\n"
	        "  check [--config PATH] [--pam-dir DIR]\n"
	        "                               check the settings, file owners and modes, the\n"
	        "                               helper, that api_url answers over TLS, and the\n"
	        "                               wait mode of the display managers' PAM stacks\n"
	        "  login [--config PATH] [--user ACCOUNT]\n"
	        "                               sign in with NextPay in this terminal; show the\n"
	        "                               identity and whether it may sign in as ACCOUNT\n"
	        "  cache list [--config PATH]   show the approval cache entries (never the tokens)\n"
	        "  cache purge [ACCOUNT] [--config PATH]\n"
	        "                               remove every cache entry, or one account's\n"
	        "  cache purge --expired [--config PATH]\n"
	        "                               remove the stale and unreadable entries\n"
	        "  log [--since TIME] [--json]  the recent sign-ins, from the systemd journal\n"
	        "  metrics                      the journal's events of this boot for Prometheus\n"
	        "\n"
	        "--config defaults to %s.\n"
	        "Run '" NP_CTL_PROGRAM " COMMAND --help' for the details of a command.\n"
	        "\n"
	        "Exit status: 0 success, 1 the check or the command failed, 2 usage error,\n"
	        "3 no journal (log, metrics).\n",
	        NP_DEFAULT_CONFIG);
}

static int run_command(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "keygen", np_ctl_keygen },
		{ "check", np_ctl_check },
		{ "login", np_ctl_login },
		{ "cache", np_ctl_cache },
		{ "log", np_ctl_log },
		{ "metrics", np_ctl_metrics },
	};

	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(argc, argv);
	fprintf(stderr,
	        NP_CTL_PROGRAM ": unknown command \"%.64s\"\nTry '" NP_CTL_PROGRAM " --help'.\n",
	        argv[0]);
	return NP_CTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/* Line by line even into a pipe: a waiting sign-in must show its code at once. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		print_usage(stderr);
		return NP_CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		/* "help COMMAND" is the same as "COMMAND --help". */
		if (strcmp(argv[1], "help") == 0 && argc == 3) {
			char help_flag[] = "--help";
			char *help_argv[] = { argv[2], help_flag, NULL };

			return run_command(2, help_argv);
		}
		print_usage(stdout);
		return NP_CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf(NP_CTL_PROGRAM " (pam_nextpay) %s\n", NP_VERSION);
		return NP_CTL_EXIT_OK;
	}
	if (sodium_init() < 0)
		return np_ctl_fail("libsodium failed to initialise");
	return run_command(argc - 1, argv + 1);
}
