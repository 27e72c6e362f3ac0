#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The valgrind phase of make check: the integration suites (tests/run-tests.sh
# integration) with every program of ours under valgrind memcheck: the test
# programs and the module libpam loads into them, the helper the module starts
# (followed through fexecve by --trace-children), nextpayctl and the helpers it
# starts.
#
#   tests/run-valgrind.sh ABS_BUILD_DIR ABS_VALGRIND_DIR
#
# make builds ABS_BUILD_DIR (all, tests, and tests/cmocka-select.so from
# tests/valgrind/cmocka_select.c) first; this calls no make.
#
# Environment:
#   NP_VG_ONLY  comma-separated cmocka test names (globs) to run; default all
#   NP_VG_SKIP  comma-separated names (globs) not to run; default login_timeout
#               (it asserts "valid for 10 seconds", the time left when the
#               code is shown, and under memcheck the helper's start-up and
#               the first TLS request alone take more than a second) and
#               callers_limits_and_priority_never_reach_the_helper (valgrind
#               keeps the open-file and stack limits a program sets to itself,
#               so /proc/PID/limits shows its own) and
#               an_online_reuse_restarts_the_grace (3 s sleeps against a 5 s
#               offline_grace: under memcheck one sign-in alone outlasts the 2 s
#               margin; the other offline tests run here, this one in the
#               integration and ASan phases)
#   NP_VG_CTL   "no" leaves nextpayctl's own tests out of valgrind (they take
#               ~75 s; make check sets it: they ran under ASan already)
#   NP_HARNESS_SUITES  the suites built on tests/integration/harness.c (make sets
#               it from HARNESS_SUITES); each is wrapped, the integration phase
#               runs those it names
#
# ABS_VALGRIND_DIR becomes a build directory for run-tests.sh (NP_BUILD): the
# module, the helper and the fake helper copied from ABS_BUILD_DIR, and in
# place of each test program a script that runs the real one under valgrind.
#
# Any memcheck error, and any definitely lost block, in any of these processes
# fails the run.  The module kills the helper (SIGKILL) once done with it, so
# the helper's leaks at exit are never seen: only its errors.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
if [ $# -ne 2 ] || [ "${1#/}" = "$1" ] || [ "${2#/}" = "$2" ]; then
	echo "usage: $0 ABS_BUILD_DIR ABS_VALGRIND_DIR" >&2
	exit 2
fi
B=$1
V=$2
LOGS=$V/logs
: "${NP_HARNESS_SUITES:?NP_HARNESS_SUITES must name the harness suites (make sets it)}"
export NP_VG_SKIP="${NP_VG_SKIP-login_timeout,callers_limits_and_priority_never_reach_the_helper,an_online_reuse_restarts_the_grace}" \
	NP_VG_ONLY="${NP_VG_ONLY-}"
mkdir -p "${NP_RESULTS_DIR:=$B/test-results}"
NP_RESULTS=$NP_RESULTS_DIR/valgrind.txt
: >"$NP_RESULTS"
export NP_RESULTS NP_SUITE_PREFIX=valgrind/

if ! command -v valgrind >/dev/null; then
	echo "valgrind is not installed (apt-get install valgrind)"
	printf 'valgrind\t0\t1\t0\n#end\t1\n' >>"$NP_RESULTS"
	exit 1
fi

rm -rf "$V"
mkdir -p "$V/tests" "$LOGS"
# The helper must be a regular file owned by root (or us), not a symbolic link.
install -m 0755 "$B/nextpay-helper" "$V/nextpay-helper"
install -m 0644 "$B/pam_nextpay.so" "$V/pam_nextpay.so"
for f in fake-helper ctl-cache-writer mockctl; do
	install -m 0755 "$B/tests/$f" "$V/tests/$f"
done
install -m 0644 "$B/tests/preload-canary.so" "$V/tests/preload-canary.so"
# What the build was made with (run-tests.sh reads qrencode=yes from it).
cp "$B/.paths" "$V/.paths" 2>/dev/null

# One log and one XML file (errors, counted below) per process.  Python (the
# mock API, the QR decoder), shells, the mock's control client and the fake
# helper (it reports its own environment and descriptors, which valgrind would
# add to) are not traced.
VG_OPTS="--tool=memcheck --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no \
--trace-children=yes --child-silent-after-fork=yes \
--trace-children-skip=*/python3*,*/sh,*/dash,*/bash,*/zbarimg,*/fake/nextpay-helper,*/fake-helper,*/mockctl \
--gen-suppressions=all --num-callers=40 --keep-debuginfo=yes \
--log-file=$LOGS/vg.%p.log --xml=yes --xml-file=$LOGS/vg.%p.xml"
# None needed so far; third-party noise only, each entry commented with why.
if [ -f "$ROOT/tests/valgrind.supp" ]; then
	VG_OPTS="$VG_OPTS --suppressions=$ROOT/tests/valgrind.supp"
fi

# In place of each suite built on the harness (NP_HARNESS_SUITES, make's list of
# them: a suite added there is wrapped here too), a script that runs the real one
# under valgrind.
for suite in $NP_HARNESS_SUITES; do
	cat >"$V/tests/$suite" <<EOF
#!/bin/sh
# Made by tests/run-valgrind.sh: $B/tests/$suite under valgrind.
LD_PRELOAD="\${LD_PRELOAD:+\$LD_PRELOAD:}$B/tests/cmocka-select.so" \\
	exec valgrind $VG_OPTS "$B/tests/$suite" "\$@"
EOF
	chmod 755 "$V/tests/$suite"
done

# nextpayctl (tests/ctl/ctl_test.py) under valgrind too; with NP_VG_CTL=no its
# tests run on the plain binaries.
if [ "${NP_VG_CTL:-yes}" != no ]; then
	cat >"$V/nextpayctl" <<EOF
#!/bin/sh
# Made by tests/run-valgrind.sh: $B/nextpayctl under valgrind.
exec valgrind $VG_OPTS "$B/nextpayctl" "\$@"
EOF
	chmod 755 "$V/nextpayctl"
	export NP_CTL="$V/nextpayctl"
else
	export NP_CTL="$B/nextpayctl"
fi

# Everything runs many times slower under memcheck: each test's time limit,
# and each suite's, is this many times the usual (tests/time_limit.h).
export NP_TEST_LIMIT_SCALE="${NP_TEST_LIMIT_SCALE:-10}"
# The scripts above, /usr/bin/valgrind (a script too) and valgrind.bin each get
# the suite's pam_wrapper environment, load pam_wrapper, make a /tmp/pam.X
# copy and exec the next: tests/run_suite.py removes those copies once the
# suite is done rather than failing it.
export NP_PAM_COPIES_LEFT=remove

# pam_wrapper dlopens libpam with RTLD_DEEPBIND, which breaks valgrind's malloc
# replacement.  Debian's pam_wrapper 1.1.4 reads UID_WRAPPER_DISABLE_DEEPBIND
# (a slip; later releases read PAM_WRAPPER_DISABLE_DEEPBIND): set both.
export PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1

start=$(date +%s)
status=0
NP_BUILD=$V ./tests/run-tests.sh integration || status=1

# Errors in any process, also in those whose exit status nobody checks (the
# helpers, killed by the module and by nextpayctl when done).
echo "==> valgrind reports from every process"
checked=0
bad=""
for x in "$LOGS"/*.xml; do
	[ -e "$x" ] || continue
	checked=$((checked + 1))
	if grep -q "<error>" "$x"; then
		bad="$bad $x"
	fi
done
echo "processes checked: $checked"
if [ -n "$bad" ]; then
	# shellcheck disable=SC2086 # a list of file names
	/usr/bin/python3 "$ROOT/tests/valgrind/show_reports.py" $bad
	printf 'valgrind/reports\t0\t1\t0\n' >>"$NP_RESULTS"
	status=1
else
	echo "no errors"
	printf 'valgrind/reports\t1\t0\t0\n' >>"$NP_RESULTS"
fi
echo "valgrind phase took $(($(date +%s) - start)) s"
printf '#end\t%s\n' "$status" >>"$NP_RESULTS"
exit $status
