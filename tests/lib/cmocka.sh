# SPDX-License-Identifier: BSD-2-Clause
# cmocka's result format, written from shell runners (tests/run-lint.sh,
# tests/check-boundaries.sh, tests/fuzz/run-fuzz.sh); tests/lib/cmocka.py reads it.
#
#   . tests/lib/cmocka.sh
#   cmocka_begin GROUP N;  cmocka_run NAME;  cmocka_ok NAME [NOTE];
#   cmocka_failed NAME [NOTE];  cmocka_end    (returns 1 when a test failed)

cmocka_begin() { # group n
	cmocka_group=$1
	cmocka_passed=0
	cmocka_failed_names=""
	echo "[==========] $cmocka_group: Running $2 test(s)."
}

cmocka_run() { # name
	echo "[ RUN      ] $1"
}

cmocka_ok() { # name [note]
	echo "[       OK ] $1${2:+ $2}"
	cmocka_passed=$((cmocka_passed + 1))
}

cmocka_failed() { # name [note]
	echo "[  FAILED  ] $1${2:+ $2}"
	cmocka_failed_names="$cmocka_failed_names $1"
}

cmocka_end() {
	cmocka_n_failed=$(echo "$cmocka_failed_names" | wc -w)
	echo "[==========] $cmocka_group: $((cmocka_passed + cmocka_n_failed)) test(s) run."
	echo "[  PASSED  ] $cmocka_passed test(s)."
	if [ "$cmocka_n_failed" -gt 0 ]; then
		echo "[  FAILED  ] $cmocka_n_failed test(s), listed below:"
		for name in $cmocka_failed_names; do
			echo "[  FAILED  ] $name"
		done
		return 1
	fi
	return 0
}
