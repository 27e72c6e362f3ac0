#!/bin/sh
# Runs the unit, integration and nextpayctl tests against a build made with
# -fsanitize=address,undefined (make check-asan builds it into build-asan/).
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

# tests/ctl/ctl_test.py (run by run-tests.sh) takes its binaries from these.
export NP_CTL="$B/nextpayctl" NP_HELPER="$B/nextpay-helper" NP_CACHE_WRITER="$B/tests/ctl-cache-writer"

status=0
start=$(date +%s)
total_passed=0
total_failed=0
total_skipped=0
OUT=$(mktemp /tmp/pam_nextpay-asan.XXXXXX)
trap 'rm -f "$OUT" "$OUT.rc"' EXIT INT TERM

# run-tests.sh with its output shown as it comes; its closing counts are added up.
run_tests() {
	{
		NP_BUILD=$B ./tests/run-tests.sh "$@"
		echo $? >"$OUT.rc"
	} 2>&1 | tee "$OUT"
	[ "$(cat "$OUT.rc")" = 0 ] || status=1
	counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUT" | tail -n 1)
	if [ -z "$counts" ]; then
		total_failed=$((total_failed + 1))
		return
	fi
	# shellcheck disable=SC2086 # split "N passed, N failed, N skipped" into words
	set -- $counts
	total_passed=$((total_passed + $1))
	total_failed=$((total_failed + $3))
	total_skipped=$((total_skipped + ${5:-0}))
}

if [ $# -gt 0 ]; then
	run_tests --unit-only "$@"
fi
run_tests --integration-only

# Reports from processes whose stderr nobody saw (the helper, nextpayctl).
reports=$(find "$LOGS" -type f | sort)
echo "==> sanitizer reports from the helper and nextpayctl"
echo "[==========] 1 test(s) run."
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
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] sanitizer_reports"
	total_failed=$((total_failed + 1))
	status=1
else
	echo "[  PASSED  ] 1 test(s)."
	total_passed=$((total_passed + 1))
fi
[ "$total_failed" -eq 0 ] || status=1
echo
echo "check-asan took $(($(date +%s) - start)) s"
echo "check-asan: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit $status
