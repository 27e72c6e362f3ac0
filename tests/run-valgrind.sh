#!/bin/sh
# Runs the integration tests (tests/run-tests.sh --integration-only) with
# every program of ours under valgrind memcheck: the test programs and the
# module libpam loads into them, the helper the module starts (followed
# through fexecve by --trace-children), nextpayctl and the helpers it starts.
#
#   tests/run-valgrind.sh ABS_BUILD_DIR ABS_VALGRIND_DIR
#
# Environment:
#   NP_VG_ONLY  comma-separated cmocka test names (globs) to run; default all
#   NP_VG_SKIP  comma-separated names (globs) not to run; default login_timeout
#               (it asserts "valid for 10 seconds", the time left when the
#               code is shown, and under memcheck the helper's start-up and
#               the first TLS request alone take more than a second)
#   NP_VG_CTL   "no" leaves nextpayctl's own tests out (they take ~75 s)
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
export NP_VG_SKIP="${NP_VG_SKIP-login_timeout}" NP_VG_ONLY="${NP_VG_ONLY-}"

command -v valgrind >/dev/null || {
	echo "valgrind is not installed (apt-get install valgrind)" >&2
	exit 2
}

rm -rf "$V"
mkdir -p "$V/tests" "$LOGS"
# The helper must be a regular file owned by root (or us), not a symbolic link.
install -m 0755 "$B/nextpay-helper" "$V/nextpay-helper"
install -m 0644 "$B/pam_nextpay.so" "$V/pam_nextpay.so"
install -m 0755 "$B/tests/fake-helper" "$V/tests/fake-helper"
install -m 0644 "$B/tests/preload-canary.so" "$V/tests/preload-canary.so"
if [ -f "$B/tests/ctl-cache-writer" ]; then
	install -m 0755 "$B/tests/ctl-cache-writer" "$V/tests/ctl-cache-writer"
fi
# What the build was made with (run-tests.sh reads qrencode=yes from it).
cp "$B/.paths" "$V/.paths" 2>/dev/null

# cmocka 1.1.5 can filter tests only from inside the program (one pattern):
# this preloaded shim wraps _cmocka_run_group_tests and keeps the tests that
# NP_VG_ONLY / NP_VG_SKIP select, and says which it left out.
cat >"$V/cmocka_select.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef int run_fn(const char *, const struct CMUnitTest *, size_t, CMFixtureFunction,
                   CMFixtureFunction);

static int listed(const char *list, const char *name)
{
	char buf[4096];
	char *save = NULL;

	snprintf(buf, sizeof buf, "%s", list);
	for (char *p = strtok_r(buf, ", ", &save); p != NULL; p = strtok_r(NULL, ", ", &save))
		if (fnmatch(p, name, 0) == 0)
			return 1;
	return 0;
}

int _cmocka_run_group_tests(const char *group, const struct CMUnitTest *const tests,
                            const size_t count, CMFixtureFunction setup,
                            CMFixtureFunction teardown)
{
	run_fn *real = (run_fn *)dlsym(RTLD_NEXT, "_cmocka_run_group_tests");
	const char *only = getenv("NP_VG_ONLY"), *skip = getenv("NP_VG_SKIP");
	struct CMUnitTest *kept = calloc(count + 1, sizeof *kept);
	size_t n = 0, left_out = 0;
	int rc;

	if (real == NULL || kept == NULL)
		abort();
	for (size_t i = 0; i < count; i++) {
		if (only != NULL && *only != '\0' && !listed(only, tests[i].name)) {
			left_out++;
			continue;
		}
		if (skip != NULL && *skip != '\0' && listed(skip, tests[i].name)) {
			printf("left out under valgrind (NP_VG_SKIP): %s\n", tests[i].name);
			left_out++;
			continue;
		}
		kept[n++] = tests[i];
	}
	fflush(stdout);
	rc = real(group, kept, n, setup, teardown);
	if (left_out > 0)
		printf("[  SKIPPED ] %zu test(s), left out under valgrind.\n", left_out);
	free(kept);
	return rc;
}
EOF
# shellcheck disable=SC2046
cc -std=c11 -O2 -fPIC -shared -o "$V/cmocka_select.so" "$V/cmocka_select.c" \
	$(pkg-config --cflags --libs cmocka) -ldl || exit 2

# One log and one XML file (errors, counted below) per process.  Python (the
# mock API, the QR decoder), shells and the fake helper (it reports its own
# environment and descriptors, which valgrind would add to) are not traced.
VG_OPTS="--tool=memcheck --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no \
--trace-children=yes --child-silent-after-fork=yes \
--trace-children-skip=*/python3*,*/sh,*/dash,*/bash,*/zbarimg,*/fake/nextpay-helper,*/fake-helper \
--gen-suppressions=all --num-callers=40 --keep-debuginfo=yes \
--log-file=$LOGS/vg.%p.log --xml=yes --xml-file=$LOGS/vg.%p.xml"
# None needed so far; third-party noise only, each entry commented with why.
if [ -f "$ROOT/tests/valgrind.supp" ]; then
	VG_OPTS="$VG_OPTS --suppressions=$ROOT/tests/valgrind.supp"
fi

# Every test program but the unit tests and the helpers' stand-ins: the
# integration suites run-tests.sh knows, whatever their number.
for t in "$B"/tests/*; do
	suite=$(basename "$t")
	case $suite in
	test_* | fake-helper | ctl-cache-writer | fuzz*) continue ;;
	esac
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	cat >"$V/tests/$suite" <<EOF
#!/bin/sh
# Generated by tests/run-valgrind.sh: $B/tests/$suite under valgrind.
LD_PRELOAD="\${LD_PRELOAD:+\$LD_PRELOAD:}$V/cmocka_select.so" \\
	exec valgrind $VG_OPTS "$B/tests/$suite" "\$@"
EOF
	chmod 755 "$V/tests/$suite"
done

# nextpayctl (tests/ctl/ctl_test.py, run by run-tests.sh) under valgrind too;
# with NP_VG_CTL=no its tests run on the plain binaries.
if [ "${NP_VG_CTL:-yes}" != no ]; then
	cat >"$V/nextpayctl" <<EOF
#!/bin/sh
# Generated by tests/run-valgrind.sh: $B/nextpayctl under valgrind.
exec valgrind $VG_OPTS "$B/nextpayctl" "\$@"
EOF
	chmod 755 "$V/nextpayctl"
	export NP_CTL="$V/nextpayctl"
else
	export NP_CTL="$B/nextpayctl"
fi
export NP_HELPER="$V/nextpay-helper" NP_CACHE_WRITER="$V/tests/ctl-cache-writer"

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

status=0
start=$(date +%s)
OUT=$(mktemp /tmp/pam_nextpay-valgrind.XXXXXX)
trap 'rm -f "$OUT" "$OUT.rc"' EXIT INT TERM
# Shown as it comes; the closing counts are added to below.
{
	NP_BUILD=$V ./tests/run-tests.sh --integration-only
	echo $? >"$OUT.rc"
} 2>&1 | tee "$OUT"
[ "$(cat "$OUT.rc")" = 0 ] || status=1
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUT" | tail -n 1)
# shellcheck disable=SC2086 # split "N passed, N failed, N skipped" into words
set -- ${counts:-0 passed, 1 failed, 0 skipped}
total_passed=$1
total_failed=$3
total_skipped=${5:-0}

# Errors in any process, also in those whose exit status nobody checks (the
# helpers, killed by the module and by nextpayctl when done).
echo "==> valgrind reports from every process"
echo "[==========] 1 test(s) run."
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
	# The XML as text: the first few reports in full, then the files' names.
	# shellcheck disable=SC2086
	/usr/bin/python3 - $bad <<'EOF'
import sys
import xml.etree.ElementTree as ET

for n, path in enumerate(sys.argv[1:]):
    if n >= 3:
        print(f"---- {path} (not shown)")
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    # A killed process leaves its XML unclosed.
    if "</valgrindoutput>" not in text:
        text += "</valgrindoutput>\n"
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        print(f"---- {path}: unreadable ({e})")
        continue
    exe = root.findtext("args/argv/exe", "?")
    print(f"---- {path}: {exe}")
    for err in root.iter("error"):
        print(f"  {err.findtext('kind')}:")
        # what, the stack, then "Address ... alloc'd" and its stack, in order.
        for part in err:
            if part.tag in ("what", "auxwhat"):
                print(f"    {part.text}")
            elif part.tag == "xwhat":
                print(f"    {part.findtext('text')}")
            elif part.tag == "stack":
                for frame in part.iter("frame"):
                    where = frame.findtext("file")
                    loc = f"{where}:{frame.findtext('line')}" if where else frame.findtext("obj", "?")
                    print(f"      {frame.findtext('fn', '???')}  ({loc})")
        sup = err.findtext("suppression/rawtext")
        if sup:
            print("    as a suppression (tests/valgrind.supp), if this is third-party noise:")
            print("    " + sup.strip().replace("\n", "\n    "))
EOF
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] valgrind_reports"
	total_failed=$((total_failed + 1))
	status=1
else
	echo "[  PASSED  ] 1 test(s)."
	total_passed=$((total_passed + 1))
fi
[ "$total_failed" -eq 0 ] || status=1
echo
echo "check-valgrind took $(($(date +%s) - start)) s"
echo "check-valgrind: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit $status
