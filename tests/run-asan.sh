#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The ASan phase of make check: the unit, integration and nextpayctl tests
# (tests/run-tests.sh unit, integration) against a build made with
# -fsanitize=address,undefined, which make builds into build-asan/ first; this
# calls no make.
#
#   tests/run-asan.sh ABS_BUILD_DIR [UNIT_TEST_BINARY ...]
#
# Every sanitizer error is fatal, and leaks are errors (LeakSanitizer, at the
# exit of each test program: the module is dlopen'ed by libpam inside the
# integration programs, so its leaks count there).  The module starts the
# helper with an empty environment and stderr on /dev/null: the helper and
# nextpayctl carry their options compiled in (tests/asan_defaults.c) and
# write reports to ABS_BUILD_DIR/sanitizer-logs/, which must stay empty.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
if [ $# -lt 1 ] || [ "${1#/}" = "$1" ]; then
	echo "usage: $0 ABS_BUILD_DIR [UNIT_TEST_BINARY ...]" >&2
	exit 2
fi
B=$1
shift
LOGS=$B/sanitizer-logs

# The helper reports as helper_user (nobody) after dropping root: sticky and
# world-writable, like /tmp.
rm -rf "$LOGS"
mkdir -p "$LOGS"
chmod 1777 "$LOGS"

# pam_wrapper dlopens libpam with RTLD_DEEPBIND, which ASan refuses.  Debian's
# pam_wrapper 1.1.4 reads UID_WRAPPER_DISABLE_DEEPBIND (a copy-and-paste slip,
# later releases read PAM_WRAPPER_DISABLE_DEEPBIND): set both.
export PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1
# run-tests.sh preloads libpam_wrapper.so into the (ASan-linked) integration
# programs, which puts it before libasan in the library list.  ASan would
# refuse to start; nothing in pam_wrapper interposes what ASan intercepts
# (malloc, str*, mem*), so the order is harmless.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:verify_asan_link_order=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Third-party leaks LeakSanitizer must not count (each explained in the file).
if [ -f "$ROOT/tests/lsan.supp" ]; then
	export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
fi

# Everything runs slower under ASan: each test's time limit, and each suite's,
# is this many times the usual (tests/time_limit.h).
export NP_TEST_LIMIT_SCALE="${NP_TEST_LIMIT_SCALE:-3}"


mkdir -p "${NP_RESULTS_DIR:=$B/test-results}"
NP_RESULTS=$NP_RESULTS_DIR/asan.txt
: >"$NP_RESULTS"
export NP_RESULTS NP_SUITE_PREFIX=asan/ NP_BUILD=$B

start=$(date +%s)
status=0
if [ $# -gt 0 ]; then
	./tests/run-tests.sh unit "$@" || status=1
fi
./tests/run-tests.sh integration || status=1

# Reports from processes whose stderr nobody saw (the helper, nextpayctl).
reports=$(find "$LOGS" -type f | sort)
echo "==> sanitizer reports from the helper and nextpayctl"
if [ -n "$reports" ]; then
	# The first few in full (one bug often trips every test), then their names.
	n=0
	for f in $reports; do
		n=$((n + 1))
		if [ $n -le 3 ]; then
			echo "---- $f"
			cat "$f"
		else
			echo "---- $f (not shown)"
		fi
	done
	printf 'asan/sanitizer_reports\t0\t1\t0\n' >>"$NP_RESULTS"
	status=1
else
	echo "none"
	printf 'asan/sanitizer_reports\t1\t0\t0\n' >>"$NP_RESULTS"
fi
echo "asan phase took $(($(date +%s) - start)) s"
printf '#end\t%s\n' "$status" >>"$NP_RESULTS"
exit $status
