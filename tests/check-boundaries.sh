#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The process boundary, checked on the sources and on what was linked:
#
#   includes  src/module/ and src/ctl/ (and pam_nextpay.c) include no helper/
#             header and no <curl/...>; src/helper/ includes no PAM header and,
#             of src/common/, only the headers of the wire (protocol, line I/O,
#             JSON, validation, sanitising, safe files, clock): no cache, map or
#             settings code; src/common/ includes nothing of the three programs,
#             no PAM and no libcurl header; module/ and ctl/ include nothing of
#             each other.
#   linking   neither pam_nextpay.so nor nextpayctl has libcurl among its NEEDED
#             entries, nextpay-helper has neither libpam nor libsystemd (the
#             journal is the module's and nextpayctl's); the helper holds no symbol
#             of the common objects it may not use, and the module and
#             nextpayctl none of the helper's objects.
#   names     every global symbol of src/ carries the np_ prefix (but main and
#             the PAM entry points pam_sm_*).
#
#   tests/check-boundaries.sh BUILD_DIR
#
# One cmocka-style test per rule (tests/lib/cmocka.sh); each failure names the
# file and line, or the binary and symbol.
set -u
cd "$(dirname "$0")/.." || exit 2
. ./tests/lib/cmocka.sh
if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
B=$1

# What the helper may include from src/common/: the wire between the two
# processes and the hygiene every process needs.
HELPER_COMMON="protocol lineio json_util validate sanitize safe_file clock"

# Runs one rule: the command prints one line per violation and nothing else.
rule() { # name command...
	name=$1
	shift
	cmocka_run "$name"
	out=$("$@" 2>&1)
	if [ -z "$out" ]; then
		cmocka_ok "$name"
	else
		echo "$out" | sed 's/^/    /'
		cmocka_failed "$name"
	fi
}

# Lines "file:line: #include ..." of the files given that match the pattern.
includes_matching() { # pattern file...
	pattern=$1
	shift
	grep -Hn -E "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" "$@" 2>/dev/null
}

module_and_ctl_includes() {
	includes_matching 'helper/|curl/' pam_nextpay.c src/module/*.[ch] src/ctl/*.[ch]
	includes_matching 'ctl/' pam_nextpay.c src/module/*.[ch]
	includes_matching 'module/' src/ctl/*.[ch]
}

helper_includes() {
	allowed=$(echo "$HELPER_COMMON" | sed 's/ /|/g')
	includes_matching 'security/|module/|ctl/' src/helper/*.[ch]
	grep -Hn -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"common/' src/helper/*.[ch] |
		grep -v -E "\"common/($allowed)\\.h\""
}

common_includes() {
	includes_matching 'module/|helper/|ctl/|security/|curl/' src/common/*.[ch]
}

# "binary: NEEDED lib" for each library of pattern the binary needs (or "binary: missing").
needs() { # binary pattern
	if [ ! -f "$1" ]; then
		echo "$1: missing (make all)"
		return
	fi
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -E "$2" |
		sed "s|^|$1: NEEDED |"
}

needed_libraries() {
	needs "$B/pam_nextpay.so" '^libcurl'
	needs "$B/nextpayctl" '^libcurl'
	needs "$B/nextpay-helper" '^libpam'
	needs "$B/nextpay-helper" '^libsystemd'
}

# The global symbols an object defines (main aside: every program has one).
defined_by() { # object...
	nm --defined-only -g "$@" 2>/dev/null | awk 'NF == 3 && $3 != "main" { print $3 }' | sort -u
}

# "binary: symbol (from object)" for each global symbol of the objects found in binary.
holds_symbols_of() { # binary object...
	binary=$1
	shift
	if [ ! -f "$binary" ]; then
		echo "$binary: missing (make all)"
		return
	fi
	nm --defined-only "$binary" | awk 'NF == 3 { print $3 }' | sort -u >"$TMP/held"
	for o in "$@"; do
		if [ ! -f "$o" ]; then
			echo "$o: missing (make all)"
			continue
		fi
		defined_by "$o" | comm -12 - "$TMP/held" | sed "s|^|$binary: |; s|\$| (from $o)|"
	done
}

# The objects of a folder's sources (not whatever an older tree left in BUILD_DIR).
objects_of() { # folder
	for c in src/"$1"/*.c; do
		echo "$B/obj/${c%.c}.o"
	done
}

linked_objects() {
	forbidden=""
	for o in $(objects_of common); do
		stem=$(basename "$o" .o)
		case " $HELPER_COMMON " in
		*" $stem "*) ;;
		*) forbidden="$forbidden $o" ;;
		esac
	done
	# shellcheck disable=SC2086 # lists of object files
	holds_symbols_of "$B/nextpay-helper" $forbidden
	# shellcheck disable=SC2046 # lists of object files
	holds_symbols_of "$B/pam_nextpay.so" $(objects_of helper)
	# shellcheck disable=SC2046
	holds_symbols_of "$B/nextpayctl" $(objects_of helper)
}

exported_names() {
	for o in "$B/obj/pam_nextpay.o" $(objects_of common) $(objects_of module) \
		$(objects_of helper) $(objects_of ctl); do
		if [ ! -f "$o" ]; then
			echo "$o: missing (make all)"
			continue
		fi
		nm --defined-only -g "$o" | awk -v o="$o" \
			'NF == 3 && $3 !~ /^(np_|main$|pam_sm_)/ { print o ": " $3 " has no np_ prefix" }'
	done
}

TMP=$(mktemp -d /tmp/pam_nextpay-boundaries.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

cmocka_begin boundaries 6
rule module_and_ctl_includes module_and_ctl_includes
rule helper_includes helper_includes
rule common_includes common_includes
rule needed_libraries needed_libraries
rule linked_objects linked_objects
rule exported_names exported_names

cmocka_end
