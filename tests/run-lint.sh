#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Static analysis, one "test" per tool (cmocka-style lines, tests/lib/cmocka.sh):
#   cppcheck     with the options make gives (tests/hardening.mk: CPPCHECK_FLAGS)
#   clang-tidy   the checks in .clang-tidy
#   scan-build   clang's analyzer over every C file, compiled as make compiles it
#   mutants      every mutant of tests/mutation/mutants.txt still finds its code,
#                once (run-mutants.sh --check): a mutant whose code moved would
#                otherwise be noticed only when someone runs the mutants
# Any finding fails its test.  A false positive is silenced on its line
# (cppcheck-suppress / NOLINT) with the reason next to it.
#
#   tests/run-lint.sh LINT_DIR [TOOL ...]     default: all four
#
# make writes LINT_DIR/sources (the C files), LINT_DIR/cflags (what the compiler is
# told) and LINT_DIR/cppcheck-flags, one word a line, and calls this; it calls no
# make.  scan-build's report goes to LINT_DIR/scan-build.
set -u
cd "$(dirname "$0")/.." || exit 2
. ./tests/lib/cmocka.sh
if [ $# -lt 1 ] || [ ! -f "$1/sources" ]; then
	echo "usage: $0 LINT_DIR [TOOL ...] (make lint writes LINT_DIR)" >&2
	exit 2
fi
DIR=$1
shift
[ $# -gt 0 ] || set -- cppcheck clang-tidy scan-build mutants

# Each tool's arguments are the lines of make's files: IFS is a newline while they
# are split, and no word is taken for a pattern.
NL='
'

cppcheck_run() {
	IFS=$NL
	set -f
	# shellcheck disable=SC2046 # one word a line
	set -- $(cat "$DIR/cppcheck-flags") $(cat "$DIR/sources")
	unset IFS
	set +f
	cppcheck "$@"
}

clang_tidy_run() {
	IFS=$NL
	set -f
	# shellcheck disable=SC2046
	set -- $(cat "$DIR/sources") -- $(cat "$DIR/cflags")
	unset IFS
	set +f
	clang-tidy --quiet "$@"
}

# Every file compiled once under scan-build, whose CC stands in for the compiler.
scan_build_run() {
	rm -rf "$DIR/scan-build"
	mkdir -p "$DIR/scan-build/obj"
	IFS=$NL
	set -f
	# shellcheck disable=SC2046
	set -- $(cat "$DIR/cflags")
	unset IFS
	set +f
	# shellcheck disable=SC2016 # expanded by the inner shell
	scan-build --status-bugs -o "$DIR/scan-build/report" --use-cc="${CC:-cc}" sh -c '
		dir=$1
		shift
		while read -r f; do
			"$CC" "$@" -c "$f" -o "$dir/scan-build/obj/out.o" || exit 1
		done <"$dir/sources"' sh "$DIR" "$@"
}

LOG=$(mktemp /tmp/pam_nextpay-lint.XXXXXX)
trap 'rm -f "$LOG"' EXIT INT TERM
cmocka_begin lint $#
for tool in "$@"; do
	cmocka_run "$tool"
	t0=$(date +%s)
	if [ "$tool" != mutants ] && ! command -v "$tool" >/dev/null; then
		echo "$tool is not installed (Debian: cppcheck, clang-tidy, clang-tools)" >"$LOG"
		status=1
	else
		case $tool in
		cppcheck) cppcheck_run >"$LOG" 2>&1 ;;
		clang-tidy) clang_tidy_run >"$LOG" 2>&1 ;;
		scan-build) scan_build_run >"$LOG" 2>&1 ;;
		mutants) ./tests/mutation/run-mutants.sh --check >"$LOG" 2>&1 ;;
		*) echo "unknown tool $tool" >"$LOG"; false ;;
		esac
		status=$?
	fi
	# Findings (and on failure everything else) are shown; clean runs stay quiet.
	if [ "$status" -ne 0 ]; then
		cat "$LOG"
		cmocka_failed "$tool" "($(($(date +%s) - t0)) s)"
	else
		cmocka_ok "$tool" "($(($(date +%s) - t0)) s)"
	fi
done
cmocka_end
