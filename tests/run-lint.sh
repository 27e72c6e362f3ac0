#!/bin/sh
# Static analysis, one "test" per tool, in cmocka's words so the runners can
# count them:
#   cppcheck     make lint-cppcheck     (options in tests/hardening.mk)
#   clang-tidy   make lint-clang-tidy   (checks in .clang-tidy)
#   scan-build   make lint-scan-build   (clang's analyzer over a fresh build)
# Any finding fails its test.  A false positive is silenced on its line
# (cppcheck-suppress / NOLINT) with the reason next to it.
#
#   tests/run-lint.sh [TOOL ...]     default: all three
set -u
cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
[ $# -gt 0 ] || set -- cppcheck clang-tidy scan-build

LOG=$(mktemp /tmp/pam_nextpay-lint.XXXXXX)
trap 'rm -f "$LOG"' EXIT INT TERM
passed=0
failed=""
start=$(date +%s)

echo "[==========] Running $# test(s)."
for tool in "$@"; do
	echo "[ RUN      ] $tool"
	t0=$(date +%s)
	if ! command -v "$tool" >/dev/null; then
		echo "$tool is not installed (Debian: cppcheck, clang-tidy, clang-tools)"
		status=1
	else
		$MAKE --no-print-directory "lint-$tool" >"$LOG" 2>&1
		status=$?
	fi
	# Findings (and on failure everything else) are shown; clean runs stay quiet.
	if [ "$status" -ne 0 ]; then
		cat "$LOG"
		echo "[  FAILED  ] $tool ($(($(date +%s) - t0)) s)"
		failed="$failed $tool"
	else
		echo "[       OK ] $tool ($(($(date +%s) - t0)) s)"
		passed=$((passed + 1))
	fi
done

n_failed=$(echo "$failed" | wc -w)
echo "[==========] $# test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ "$n_failed" -gt 0 ]; then
	echo "[  FAILED  ] $n_failed test(s), listed below:"
	for tool in $failed; do
		echo "[  FAILED  ] $tool"
	done
fi
echo
echo "lint took $(($(date +%s) - start)) s"
echo "lint: $passed passed, $n_failed failed"
[ "$n_failed" -eq 0 ]
