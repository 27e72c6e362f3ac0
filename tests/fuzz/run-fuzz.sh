#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Runs the libFuzzer targets built by tests/fuzz/fuzz.mk, one after another.
#   run-fuzz.sh fuzz SECONDS NAME...   fuzz each target for SECONDS seconds
#   run-fuzz.sh regress 0 NAME...      run each target once over its seeds and regressions
# The seeds (tests/fuzz/corpus/NAME) and regressions are copied to a scratch
# corpus under $FUZZ_BUILD first, so fuzzing never writes into the repository.
# One summary line per target, then cmocka-style closing lines
# (tests/lib/cmocka.sh: one test per target).  Exits non-zero on any crash.
set -u
cd "$(dirname "$0")/../.." || exit 1
. ./tests/lib/cmocka.sh
mode=$1
seconds=$2
shift 2
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
SRC=tests/fuzz
mkdir -p "$FUZZ_BUILD/artifacts" "$FUZZ_BUILD/logs" "$FUZZ_BUILD/corpus"
# Stack traces for UBSan reports; crashes stop at the first error (-fno-sanitize-recover).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"


# The last value of "key: N" in a log ("cov: 312").
last_stat() { # log key
	sed -n "s/.* $2: \([0-9]*\).*/\1/p" "$1" | tail -n 1
}
final_stat() { # log name
	sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

cmocka_begin "fuzz $mode" $#
for name in "$@"; do
	bin=$FUZZ_BUILD/fuzz_$name
	log=$FUZZ_BUILD/logs/$name.log
	cmocka_run "fuzz_$name"
	if [ ! -x "$bin" ]; then
		echo "fuzz_$name: FAILED: $bin not built"
		cmocka_failed "fuzz_$name"
		continue
	fi
	dict=""
	[ -f "$SRC/$name.dict" ] && dict="-dict=$SRC/$name.dict"
	if [ "$mode" = regress ]; then
		# Every file once: each crash ever kept stays a test.
		files=$(find "$SRC/corpus/$name" "$SRC/regressions/$name" -type f 2>/dev/null | sort)
		n_seeds=$(find "$SRC/corpus/$name" -type f 2>/dev/null | wc -l)
		n_regress=$(find "$SRC/regressions/$name" -type f 2>/dev/null | wc -l)
		if [ -z "$files" ]; then
			# Without inputs libFuzzer would start fuzzing: refuse instead.
			echo "fuzz_$name: FAILED: no seeds in $SRC/corpus/$name"
			status=1
		else
			# shellcheck disable=SC2086
			"$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 \
				-artifact_prefix="$FUZZ_BUILD/artifacts/$name-" $files >"$log" 2>&1
			status=$?
			[ "$status" -eq 0 ] &&
				echo "fuzz_$name: OK, $((n_seeds + n_regress)) inputs ($n_seeds seeds, $n_regress regressions)"
		fi
	else
		corpus=$FUZZ_BUILD/corpus/$name
		mkdir -p "$corpus"
		for d in "$SRC/corpus/$name" "$SRC/regressions/$name"; do
			[ -d "$d" ] && find "$d" -type f -exec cp {} "$corpus/" \;
		done
		before=$(find "$corpus" -type f | wc -l)
		# shellcheck disable=SC2086
		"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$FUZZ_BUILD/artifacts/$name-" $dict "$corpus" >"$log" 2>&1
		status=$?
		if [ "$status" -eq 0 ]; then
			echo "fuzz_$name: OK, ${seconds} s, $(final_stat "$log" number_of_executed_units) runs," \
				"$(final_stat "$log" average_exec_per_sec) exec/s, cov $(last_stat "$log" cov)," \
				"ft $(last_stat "$log" ft), corpus $before -> $(find "$corpus" -type f | wc -l)"
		fi
	fi
	if [ "$status" -eq 0 ]; then
		cmocka_ok "fuzz_$name"
	else
		# Fuzzing writes the input as an artifact; a regression run names the file it ran.
		artifact=$(sed -n -e 's/.*Test unit written to \(.*\)/\1/p' -e 's/^Running: \(.*\)/\1/p' \
			"$log" | tail -n 1)
		echo "fuzz_$name: FAILED (exit $status)${artifact:+, input: $artifact}; log: $log"
		# What broke, and the first frames in our code.
		grep -E -m 4 'ERROR: |runtime error|invariant failed|SUMMARY' "$log" | sed 's/^/    /'
		grep -E -m 6 '^ *#[0-9]+ .* in [^ ]+ [^ ]*(src|tests/fuzz)/' "$log" | sed 's/^ */      /'
		cmocka_failed "fuzz_$name"
	fi
done
cmocka_end

