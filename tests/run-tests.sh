#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Runs the suites of one or more phases of make check.  make builds what a phase
# needs, then calls this (or the phase's own runner, which may call this); nothing
# here calls make.
#
#   tests/run-tests.sh PHASE [ARG...]
#
# Phases:
#   unit BINARY...   the cmocka unit test programs given
#   integration      the module through the real libpam (pam_wrapper) against the
#                    HTTPS mock: integration, integration_cache, sshd_key, offline, greeter,
#                    breakglass;
#                    nextpayctl's tests
#   journal          the audit trail against a real journald of its own, in a private
#                    mount namespace (root only: as another user its tests are skipped)
#   robustness       a hostile API, the module as a guest in a long-lived host,
#                    faults around it, 200 sign-ins at once; the benchmark's short
#                    form (three rounds of tests/integration/bench.c, and
#                    tests/bench/bench.py with NP_BENCH_SHORT=1)
#   bench            the benchmark alone, all its rounds (make bench; with
#                    NP_BENCH_RESULTS=FILE, tests/bench/bench.py writes its table there)
#   e2e              real sshd and ssh, real sudo, /bin/login, screen lockers and LightDM
#                    on Xvfb (root only: as another user every e2e test counts as skipped)
#   man              the manual pages, and the settings table they share
#   package          the Debian package (installed, used, purged as root) and the RPM,
#                    whose authselect profiles run through authselect and libpam (root)
#   boundaries       tests/check-boundaries.sh: the process boundary
#   lint LINT_DIR    cppcheck, clang-tidy, scan-build (tests/run-lint.sh)
#   fuzz             every seed and regression once, then 10 s of fuzzing per target
#                    (FUZZ_BUILD, FUZZ_TARGETS as tests/fuzz/fuzz.mk sets them)
#
# The ASan and valgrind phases have runners of their own (tests/run-asan.sh,
# tests/run-valgrind.sh), which run the unit and integration phases from here.
#
# Each suite runs under tests/run_suite.py: shown as it runs, counted, with a time
# limit, no process and no pam_wrapper copy (/tmp/pam.X) of it left behind.  Its
# counts go to NP_RESULTS_DIR/PHASE.txt (default BUILD/test-results), which this
# starts afresh and ends with "#end"; tests/lib/results.py prints the closing line.
# A runner that runs phases of its own (run-asan.sh, run-valgrind.sh) sets
# NP_RESULTS to its own file and NP_SUITE_PREFIX to name its suites apart.
#
# Environment: NP_BUILD (the build to test, default build/), NP_INTEGRATION_ONLY and
# NP_INTEGRATION_SKIP (names of the integration phase's suites, space-separated:
# run only those, in one lane, or all but those; unset, the phase runs in two lanes), NP_TEST_LIMIT
# (seconds per test), NP_SUITE_LIMIT (seconds per suite), NP_TEST_LIMIT_SCALE
# (multiplies both; the ASan and valgrind runs set it), NP_PAM_COPIES_LEFT=remove
# (copies left behind are removed without failing: for runs whose launchers load
# pam_wrapper too).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
BUILD=${NP_BUILD:-$ROOT/build}
PYTHON=/usr/bin/python3
if [ $# -lt 1 ]; then
	echo "usage: $0 PHASE [ARG...] (see the top of this file)" >&2
	exit 2
fi
phase=$1
shift

# This run's directory: the PAM services, configs and mocks of the pam_wrapper
# suites, the e2e tests' temporary directories; what names it is this run's.
T=$(mktemp -d /tmp/pam_nextpay-test.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT INT TERM

# Where the counts go: a file of this phase's own, unless a runner above chose one.
if [ -n "${NP_RESULTS:-}" ]; then
	own_results=no
else
	mkdir -p "${NP_RESULTS_DIR:=$BUILD/test-results}"
	NP_RESULTS=$NP_RESULTS_DIR/$phase.txt
	: >"$NP_RESULTS"
	own_results=yes
fi
export NP_RESULTS
PREFIX=${NP_SUITE_PREFIX:-}
status=0

# Runs one suite (a cmocka program, a Python test file, a script) under run_suite.py.
suite() { # [--time-limits] NAME COMMAND...
	limits=""
	if [ "$1" = --time-limits ]; then
		limits=$1
		shift
	fi
	name=$1
	shift
	# shellcheck disable=SC2086 # $limits is one word or none
	$PYTHON "$ROOT/tests/run_suite.py" $limits --copies-left="${NP_PAM_COPIES_LEFT:-fail}" \
		"$PREFIX$name" "$T" -- "$@" || status=1
}

# The group of the break-glass services: as root, a name of this run's, which the
# breakglass suite creates and removes; as another user, the caller's own group.
if [ "$(id -u)" -eq 0 ]; then
	NP_BREAKGLASS_GROUP=npbg-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
else
	NP_BREAKGLASS_GROUP=$(id -gn)
fi

# The PAM services of the pam_wrapper suites, from tests/fixtures/pam.d/.
install_services() {
	wrapper_modules=$(dpkg -L libpam-wrapper 2>/dev/null)
	set_items=$(echo "$wrapper_modules" | grep '/pam_set_items.so$' | head -n 1)
	matrix=$(echo "$wrapper_modules" | grep '/pam_matrix.so$' | head -n 1)
	mkdir -p "$T/services" "$T/conf"
	for f in "$ROOT"/tests/fixtures/pam.d/*; do
		sed -e "s|@MODULE@|$BUILD/pam_nextpay.so|g" -e "s|@CONF@|$T/conf/current.conf|g" \
			-e "s|@SET_ITEMS@|$set_items|g" -e "s|@MATRIX@|$matrix|g" \
			-e "s|@BREAKGLASS_GROUP@|$NP_BREAKGLASS_GROUP|g" "$f" >"$T/services/$(basename "$f")"
	done
}

# A suite built on tests/integration/harness.c, with the environment it reads.
harness_suite() { # NAME
	suite --time-limits "$1" env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/services" NP_TEST_DIR="$T" \
		NP_HELPER="$BUILD/nextpay-helper" NP_FAKE_HELPER="$BUILD/tests/fake-helper" \
		NP_MOCK="$ROOT/tests/mock/nextpay_mock.py" NP_TESTS_DIR="$ROOT/tests/integration" \
		NP_OPENSSH_NEW="$BUILD/openssh-10.3" NP_BREAKGLASS_GROUP="$NP_BREAKGLASS_GROUP" \
		NP_HAVE_QR="$(grep -q 'qrencode=yes' "$BUILD/.paths" 2>/dev/null && echo yes)" \
		"$BUILD/tests/$1"
}

# A Python suite of tests/ctl, tests/e2e, tests/man or tests/package (tests/lib).
python_suite() { # NAME FILE [ENV=VALUE...]
	name=$1
	file=$2
	shift 2
	suite --time-limits "$name" env NP_BUILD="$BUILD" "$@" $PYTHON "$ROOT/$file"
}

case $phase in
unit)
	for t in "$@"; do
		suite --time-limits "$(basename "$t")" "$t"
	done
	;;
integration)
	# Two lanes at once, unless told which suites: the suites mostly wait (sleeps,
	# the mock, the helper's polls), so one lane leaves the CPU idle: under
	# valgrind the phase used a third of the two cores (user+sys 10.7 of 16.4
	# min).  Each run of this script has a test directory of its own, so the
	# lanes share nothing but the machine.  The longest suite, integration_cache,
	# is the second lane; its output follows the first's.
	if [ -z "${NP_INTEGRATION_ONLY:-}${NP_INTEGRATION_SKIP:-}" ]; then
		second_lane=integration_cache
		NP_INTEGRATION_ONLY=$second_lane "$0" integration >"$T/lane.log" 2>&1 &
		lane=$!
		NP_INTEGRATION_SKIP=$second_lane
	fi
	install_services
	for name in integration integration_cache sshd_key offline greeter breakglass nextpayctl; do
		case " ${NP_INTEGRATION_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
		case " ${NP_INTEGRATION_SKIP:-} " in *" $name "*) continue ;; esac
		if [ "$name" = nextpayctl ]; then
			python_suite nextpayctl tests/ctl/ctl_test.py
		else
			harness_suite "$name"
		fi
	done
	if [ -n "${lane:-}" ]; then
		wait "$lane" || status=1
		echo "==> the second lane (run alongside the suites above):"
		cat "$T/lane.log"
	fi
	;;
journal)
	python_suite journal tests/journal/journal_test.py
	;;
robustness)
	install_services
	for s in hostile host_safety faults load; do
		harness_suite "$s"
	done
	# A few rounds so that the benchmark cannot rot: its own checks (the cache row
	# really reused, the key really exchanged) hold.
	NP_BENCH_ROUNDS=3
	export NP_BENCH_ROUNDS
	harness_suite bench
	python_suite bench-rows tests/bench/bench.py NP_BENCH_SHORT=1 NP_BENCH_RESULTS=
	;;
bench)
	install_services
	harness_suite bench
	# Root only (its services live in /etc/pam.d): as anyone else its rows count as skipped.
	python_suite bench-rows tests/bench/bench.py
	;;
e2e)
	for t in "$ROOT"/tests/e2e/e2e_*.py; do
		name=e2e/$(basename "$t" .py)
		if [ "$(id -u)" -eq 0 ]; then
			# Their temporary directories in $T: what their PAM services name is this run's.
			python_suite "$name" "tests/e2e/$(basename "$t")" TMPDIR="$T"
		else
			# sshd, sudo and login run as root: as anyone else each test counts as skipped.
			n=$($PYTHON "$t" --list 2>/dev/null | wc -l)
			echo "==> $name: skipped (needs root: sshd, sudo and login run as root)"
			printf '%s\t0\t0\t%s\n' "$PREFIX$name" "$n" >>"$NP_RESULTS"
		fi
	done
	;;
man)
	python_suite man tests/man/man_test.py
	;;
package)
	python_suite package tests/package/package_test.py
	python_suite authselect tests/package/authselect_test.py
	;;
boundaries)
	suite boundaries "$ROOT/tests/check-boundaries.sh" "$BUILD"
	;;
lint)
	# make writes what the tools are told into the directory given (tests/hardening.mk).
	suite lint "$ROOT/tests/run-lint.sh" "$1"
	;;
fuzz)
	# shellcheck disable=SC2086 # a list of target names
	suite fuzz-regress "$ROOT/tests/fuzz/run-fuzz.sh" regress 0 ${FUZZ_TARGETS:-}
	# shellcheck disable=SC2086
	suite fuzz-smoke "$ROOT/tests/fuzz/run-fuzz.sh" fuzz 10 ${FUZZ_TARGETS:-}
	;;
*)
	echo "$0: unknown phase \"$phase\" (see the top of this file)" >&2
	exit 2
	;;
esac

if [ "$own_results" = yes ]; then
	printf '#end\t%s\n' "$status" >>"$NP_RESULTS"
fi
exit "$status"
