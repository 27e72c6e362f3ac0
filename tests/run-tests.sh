#!/bin/sh
# Runs the unit test binaries given as arguments, then the integration tests
# (the real module through the real libpam via pam_wrapper, against the HTTPS
# mock API), then the end-to-end tests (real sshd and ssh, real sudo, a
# login-style conversation; root only), the manual pages, and the packages
# (build/deb and build/rpm; the .deb is installed, used and purged on this
# machine as root).  Prints one closing "N passed, N failed" line; exits
# non-zero on any failure.
#
# Each suite runs under tests/run_suite.py: a time limit for the whole suite
# (each test has one of its own), no process of it left running, and no
# pam_wrapper copy (/tmp/pam.X) of it left behind.  A suite whose output has
# no "[----------] time limit:" line was built without its tests' time limits
# (tests/time_limit.h) and fails.
#
# Environment: NP_TEST_LIMIT (seconds per test), NP_SUITE_LIMIT (seconds per
# suite), NP_TEST_LIMIT_SCALE (multiplies both; the ASan and valgrind runs set
# it), NP_PAM_COPIES_LEFT=remove (copies left behind are removed without
# failing: for runs whose launchers load pam_wrapper too).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
BUILD=${NP_BUILD:-$ROOT/build}
mode=all
case "${1:-}" in
--unit-only) mode=unit; shift ;;
--integration-only) mode=integration; shift ;;
--fuzz-only) mode=fuzz; shift ;;
--hardening-only) mode=hardening; shift ;;
--robustness-only) mode=robustness; shift ;;
--e2e-only) mode=e2e; shift ;;
--man-only) mode=man; shift ;;
--package-only) mode=package; shift ;;
--boundaries-only) mode=boundaries; shift ;;
--bench) mode=bench; shift ;;
esac

passed=0
failed=0
skipped=0
failed_names=""

LOG=$(mktemp /tmp/pam_nextpay-log.XXXXXX)
# This run's directory: the PAM services, configs and mocks of the integration
# suites, the e2e tests' temporary directories; what names it is this run's.
T=$(mktemp -d /tmp/pam_nextpay-test.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T" "$LOG"' EXIT INT TERM

# Runs one cmocka binary and adds its per-test counts to the totals.
run() { # name command...
	name=$1
	shift
	echo "==> $name"
	"$@" >"$LOG" 2>&1
	status=$?
	cat "$LOG"
	# Summed: a runner of runners (sanitizer builds, fuzzing) prints one per group.
	ok=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$LOG" | awk '{ n += $1 } END { if (NR) print n }')
	bad=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$LOG" | awk '{ n += $1 } END { if (NR) print n }')
	skip=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$LOG" | awk '{ n += $1 } END { if (NR) print n }')
	skipped=$((skipped + ${skip:-0}))
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${bad:-0}))
	# A crash or a non-zero exit without a count still fails the run.
	if [ "$status" -ne 0 ]; then
		[ -z "$bad" ] && failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
}

# Runs one test suite (a cmocka binary or a Python test file) under
# tests/run_suite.py, and fails it if its tests had no time limits.
run_suite() { # name command...
	suite_name=$1
	shift
	run "$suite_name" /usr/bin/python3 "$ROOT/tests/run_suite.py" \
		--copies-left="${NP_PAM_COPIES_LEFT:-fail}" "$suite_name" "$T" -- "$@"
	if ! grep -q '^\[----------\] time limit: ' "$LOG"; then
		echo "[  FAILED  ] $suite_name: printed no \"[----------] time limit:\" line; built" \
			"without tests/time_limit.c?"
		failed=$((failed + 1))
		failed_names="$failed_names $suite_name"
	fi
}

if [ "$mode" = all ] || [ "$mode" = unit ]; then
	for t in "$@"; do
		run_suite "$(basename "$t")" "$t"
	done
fi

if [ "$mode" = all ] || [ "$mode" = integration ] || [ "$mode" = robustness ] ||
	[ "$mode" = bench ]; then
	mkdir -p "$T/services" "$T/conf"
	module=$BUILD/pam_nextpay.so
	conf=$T/conf/current.conf
	for svc in np-poll:wait=poll np-prompt:wait=prompt np-auto: sshd:; do
		name=${svc%%:*}
		args=${svc#*:}
		printf 'auth     required %s config=%s %s\naccount  required pam_permit.so\n' \
			"$module" "$conf" "$args" >"$T/services/$name"
	done
	# np-items: pam_wrapper's pam_set_items sets PAM_TTY, PAM_RHOST, PAM_AUTHTOK
	# ... from same-named environment variables, as sshd, login or an earlier
	# module would.
	set_items=$(dpkg -L libpam-wrapper | grep '/pam_set_items.so$' | head -n 1)
	printf 'auth required %s\nauth required %s config=%s wait=poll\naccount required pam_permit.so\n' \
		"$set_items" "$module" "$conf" >"$T/services/np-items"
	printf 'auth required %s\nauth required %s config=%s wait=prompt\naccount required pam_permit.so\n' \
		"$set_items" "$module" "$conf" >"$T/services/np-items-prompt"
	# PAM_IGNORE leaves the decision to the rest of the stack; pam_deny answers
	# PAM_AUTH_ERR then, while any other code from the module ends the stack.
	printf 'auth [ignore=ignore default=die] %s config=%s wait=poll\nauth required pam_deny.so\n' \
		"$module" "$conf" >"$T/services/np-skip"
	# np-permit: the benchmark's baseline, libpam and pam_wrapper on their own.
	printf 'auth required pam_permit.so\naccount required pam_permit.so\n' >"$T/services/np-permit"
	printf 'auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n' \
		>"$T/services/other"
	# The robustness suites (a hostile API, host safety, faults, load) run in
	# "all" and on their own, not in --integration-only, which the sanitizer and
	# valgrind runs use: a thousand sign-ins under valgrind would take hours.
	suites="integration integration_cache"
	[ "$mode" = robustness ] && suites=""
	[ "$mode" = bench ] && suites="bench"
	if [ "$mode" = all ] || [ "$mode" = robustness ]; then
		suites="$suites hostile host_safety faults load"
	fi
	# make check runs the benchmark for a few rounds so that it cannot rot:
	# its own checks (the cache row really reused, the key really exchanged) hold.
	if [ "$mode" = all ]; then
		suites="$suites bench"
		NP_BENCH_ROUNDS=3
		export NP_BENCH_ROUNDS
	fi
	for suite in $suites; do
		run_suite "$suite" env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
			PAM_WRAPPER_SERVICE_DIR="$T/services" NP_TEST_DIR="$T" \
			NP_HELPER="$BUILD/nextpay-helper" NP_FAKE_HELPER="$BUILD/tests/fake-helper" \
			NP_MOCK="$ROOT/tests/mock/nextpay_mock.py" NP_TESTS_DIR="$ROOT/tests/integration" \
			NP_OPENSSH_NEW="$BUILD/openssh-10.3" \
			NP_HAVE_QR="$(grep -q 'qrencode=yes' "$BUILD/.paths" 2>/dev/null && echo yes)" \
			"$BUILD/tests/$suite"
	done
	if [ "$mode" = bench ]; then
		exit "$failed"
	fi
	if [ "$mode" != robustness ]; then
		run_suite nextpayctl env NP_BUILD="$BUILD" /usr/bin/python3 "$ROOT/tests/ctl/ctl_test.py"
	fi
fi

# End-to-end: each tests/e2e/e2e_*.py prints cmocka-style lines of its own.
if [ "$mode" = all ] || [ "$mode" = e2e ]; then
	if [ "$(id -u)" -eq 0 ]; then
		# Their temporary directories in $T: what their PAM services name is this run's.
		for t in "$ROOT"/tests/e2e/e2e_*.py; do
			run_suite "e2e/$(basename "$t" .py)" env TMPDIR="$T" /usr/bin/python3 "$t"
		done
	else
		echo "e2e: skipped (needs root: sshd and sudo run as root)"
		for t in "$ROOT"/tests/e2e/e2e_*.py; do
			n=$(/usr/bin/python3 "$t" --list 2>/dev/null | wc -l)
			skipped=$((skipped + n))
		done
	fi
fi

# The manual pages, and the settings table they share with the code and the sample config.
if [ "$mode" = all ] || [ "$mode" = man ]; then
	run man /usr/bin/python3 "$ROOT/tests/man/man_test.py"
fi

# The Debian package, installed, used and purged on this machine, and the RPM
# (tests/package/package_test.py counts its root-only tests as skipped itself).
if [ "$mode" = all ] || [ "$mode" = package ]; then
	run package env NP_BUILD="$BUILD" /usr/bin/python3 "$ROOT/tests/package/package_test.py"
fi

# The process boundary: what each folder includes, what each program links.
if [ "$mode" = all ] || [ "$mode" = boundaries ]; then
	run boundaries "$ROOT/tests/check-boundaries.sh" "$BUILD"
fi

# Fuzzing: every seed and every input that once crashed, then a short run.
if [ "$mode" = all ] || [ "$mode" = fuzz ]; then
	run fuzz-regress make --no-print-directory -C "$ROOT" fuzz-regress
	run fuzz-smoke make --no-print-directory -C "$ROOT" fuzz-smoke
fi

# The same tests again under AddressSanitizer+UBSan and under valgrind, and
# static analysis of every C file (tests/hardening.mk).
if [ "$mode" = all ] || [ "$mode" = hardening ]; then
	run lint make --no-print-directory -C "$ROOT" lint
	run check-asan make --no-print-directory -C "$ROOT" check-asan
	# nextpayctl's own tests already ran under ASan; here the module and helper count.
	run check-valgrind make --no-print-directory -C "$ROOT" check-valgrind NP_VG_CTL=no
fi

echo
if [ -n "$failed_names" ]; then
	echo "failed:$failed_names"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
