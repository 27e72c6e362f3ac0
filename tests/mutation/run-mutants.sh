#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Mutation testing of the security decisions: for each mutant of
# tests/mutation/mutants.txt, a scratch copy of the tree with that one
# decision broken is built and put through the unit, integration and
# robustness suites (tests/run-tests.sh).  A mutant is "caught" when a suite
# fails, "survived" when all pass: a decision no test pins down.
#
#   tests/mutation/run-mutants.sh [--out DIR] [--no-baseline] [MUTANT ...]
#   tests/mutation/run-mutants.sh --check [MUTANT ...]
#
# With no MUTANT, every mutant of the table, in its order.  --check only
# checks that each mutant's find text is in its file exactly once (after
# code moved).  Not part of make check: a run takes some minutes per mutant
# (a survivor goes through every suite), so run it on a quiet machine.
#
# The tree as it is on disk (tracked and untracked files git does not
# ignore) is copied to DIR/base (default build/mutation/base) and built;
# unless --no-baseline, the suites must pass on it first, or no result
# would mean anything.  Each mutant then gets DIR/mutant, a copy of the
# base with its build, so that only what the mutant touches is rebuilt; it
# is removed afterwards unless the mutant survived or did not build.  Per
# mutant: DIR/NAME.build.log and DIR/NAME.STAGE.log for each stage run
# (unit, integration, robustness, in this order, stopping at the first that
# fails).  The summary table is printed at the end and kept in
# DIR/summary.txt.
#
# Results: caught (by a stage, with the suites that failed), survived,
# "not applied" (its find text is not in the file exactly once: fix the
# table), "does not build" (fix the mutant).  Exit status 0 when every
# mutant was caught, 1 otherwise, 2 on a usage or set-up error.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
MUTANTS="/usr/bin/python3 $ROOT/tests/mutation/mutants.py"
OUT=$ROOT/build/mutation
baseline=yes
check_only=no

while [ $# -gt 0 ]; do
	case $1 in
	--out) OUT=$2; shift 2 ;;
	--no-baseline) baseline=no; shift ;;
	--check) check_only=yes; shift ;;
	--help | -h) sed -n '3,32p' "$0"; exit 0 ;;
	-*) echo "run-mutants.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

if [ "$check_only" = yes ]; then
	# shellcheck disable=SC2086 # MUTANTS is a command and its first argument
	exec $MUTANTS check "$ROOT" "$@"
fi

# shellcheck disable=SC2086
names=${*:-$($MUTANTS names)} || exit 2
for name in $names; do
	# shellcheck disable=SC2086
	$MUTANTS describe "$name" >/dev/null || { echo "run-mutants.sh: no mutant $name" >&2; exit 2; }
done
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
mkdir -p "$OUT" || exit 2

# The test programs these suites need (tests/tests.mk).
build() { # tree log
	make -C "$1" --no-print-directory all tests >"$2" 2>&1
}

# The unit, integration and robustness suites of tree, stopping at the first
# stage that fails; prints "passed" or "STAGE: SUITE ...".  Logs to prefix.STAGE.log.
run_stages() { # tree prefix
	(
		cd "$1" || exit 2
		# The runner takes its build directory from NP_BUILD: this tree's own.
		unset NP_BUILD
		units=""
		for src in tests/unit/test_*.c; do
			units="$units build/tests/$(basename "$src" .c)"
		done
		for stage in unit integration robustness; do
			log=$2.$stage.log
			args=""
			[ "$stage" = unit ] && args=$units
			# shellcheck disable=SC2086 # units is a list of paths without spaces
			if ! NP_RESULTS_DIR=$2.results ./tests/run-tests.sh $stage $args >"$log" 2>&1; then
				# The suites that failed, from the phase's counts (tests/run-tests.sh).
				suites=$(awk -F '\t' '$1 !~ /^#/ && $3 > 0 { printf "%s ", $1 }' \
					"$2.results/$stage.txt" 2>/dev/null)
				echo "$stage: ${suites:-(see $log)}"
				exit 0
			fi
		done
		echo passed
	)
}

# The tree as on disk, without build outputs or anything else git ignores.
copy_tree() { # destination
	rm -rf "$1" && mkdir -p "$1" || return 1
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
			(cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$1"
	else
		tar -C "$ROOT" --exclude=./build --exclude='./build-*' -cf - . | tar -xf - -C "$1"
	fi
}

base=$OUT/base
echo "==> base: $base"
copy_tree "$base" || { echo "run-mutants.sh: cannot copy the tree" >&2; exit 2; }
if ! build "$base" "$OUT/base.build.log"; then
	echo "run-mutants.sh: the unmutated tree does not build: $OUT/base.build.log" >&2
	exit 2
fi
if [ "$baseline" = yes ]; then
	verdict=$(run_stages "$base" "$OUT/base")
	if [ "$verdict" != passed ]; then
		echo "run-mutants.sh: the suites fail without any mutant ($verdict): fix that first" >&2
		exit 2
	fi
	echo "    the unmutated tree passes every stage"
fi

summary=$OUT/summary.txt
: >"$summary"
caught=0
others=0
for name in $names; do
	tree=$OUT/mutant
	# shellcheck disable=SC2086
	what=$($MUTANTS describe "$name")
	file=${what%%"	"*}
	breaks=${what#*"	"}
	echo "==> $name ($file): $breaks"
	start=$(date +%s)
	rm -rf "$tree" "${OUT:?}/$name"
	cp -a "$base" "$tree" || exit 2
	# shellcheck disable=SC2086
	if ! $MUTANTS apply "$tree" "$name" 2>"$OUT/$name.apply.log"; then
		result="not applied"
		cat "$OUT/$name.apply.log"
	elif ! build "$tree" "$OUT/$name.build.log"; then
		result="does not build"
		mv "$tree" "$OUT/$name"
	else
		verdict=$(run_stages "$tree" "$OUT/$name")
		if [ "$verdict" = passed ]; then
			result=survived
			mv "$tree" "$OUT/$name"
		else
			result="caught by $verdict"
		fi
	fi
	rm -rf "$tree"
	case $result in
	caught*) caught=$((caught + 1)) ;;
	*) others=$((others + 1)) ;;
	esac
	echo "    $result ($(($(date +%s) - start)) s)"
	printf '%-30s %-48s %s\n' "$name" "$result" "$breaks" >>"$summary"
done

echo
echo "Mutants: $((caught + others)), caught $caught, not caught $others"
printf '%-30s %-48s %s\n' MUTANT RESULT "DECISION IT BREAKS"
cat "$summary"
[ "$others" -eq 0 ]
