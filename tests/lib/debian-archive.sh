# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=sh
# Files from a newer Debian suite, through apt, for the test scripts that need a
# tool Debian 12 lacks (tests/e2e/build-openssh.sh, tests/package/fetch-authselect.sh).
# The machine's apt configuration is left alone: each run has a private apt
# directory with one list line for the suite, and what comes back is checked
# along the archive's own chain: the InRelease signature (gpgv, Debian's archive
# keyring), the index's SHA-256 in it; the caller then checks each file's SHA-256
# and size against the index.
#
#   . tests/lib/debian-archive.sh
#   archive_script "WHAT VERSION" "$@"       # DEST from the arguments; WORK removed at exit
#   say TEXT; note FILE TEXT; unavailable REASON   # note: DEST holds only FILE; exits 0
#   archive_index WORK SUITE source|binary   # sets ARCHIVE_URI and ARCHIVE_INDEX
#   archive_apt WORK ARG...                  # apt-get with WORK's private lists and cache
#   cache_lock CACHE_ROOT                    # the machine's cache: checked, locked (fd 9)
#   index_entry INDEX PACKAGE VERSION_PREFIX [FILE]  # "VERSION HASH SIZE FILE" of the newest

ARCHIVE_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Such a script fails only on a usage error: where the tool cannot be had, DEST
# gets a note the tests read (unavailable.txt: they skip; failed.txt: they fail).
archive_script() { # what arg...
	ARCHIVE_WHAT=$1
	shift
	if [ $# -ne 1 ] || [ "${1#/}" = "$1" ]; then
		echo "usage: $0 ABSOLUTE_DEST_DIR" >&2
		exit 2
	fi
	DEST=$1
	WORK=""
	trap '[ -z "$WORK" ] || rm -rf "$WORK"' EXIT
	trap 'exit 1' INT TERM HUP
}

say() { echo "$ARCHIVE_WHAT: $*"; }

# Leaves DEST with only a note in it, and ends the script successfully.
note() { # file text
	rm -rf "$DEST"
	mkdir -p "$DEST"
	printf '%s\n' "$2" >"$DEST/$1"
	say "$2"
	exit 0
}

unavailable() { note unavailable.txt "$ARCHIVE_WHAT is not available: $*"; }

# The URI of the Debian archive apt already uses (not the security archive).
archive_uri() {
	{
		sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
			tr ' ' '\n'
		sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | grep -E '^https?://[^[:space:]]+/debian/?$' | head -n 1
}

# What is kept in the machine's cache (CACHE_ROOT) runs as root, so only root may
# have written there; one fetch or build at a time, even with two make runs at once.
cache_lock() { # cache_root
	[ "$(id -u)" -eq 0 ] || unavailable "needs root (the tests that use it run as root)"
	mkdir -p "$1" || unavailable "cannot create $1"
	if [ -n "$(find "$1" -maxdepth 0 \( ! -user 0 -o -perm /022 \))" ]; then
		unavailable "$1 is not root's alone (owner or mode): not used"
	fi
	exec 9>"$1/.lock"
	flock 9
}

# SHA256 of PATH in a Release file's "SHA256:" section, and its size: "HASH SIZE".
release_entry() { # release path
	awk -v want="$2" '
		/^[^ ]/ { in_sha = ($0 == "SHA256:") ; next }
		in_sha && $3 == want { print $1, $2; exit }' "$1"
}

# "HASH SIZE" of a file as release_entry and index_entry give them.
hash_size() { # file
	echo "$(sha256sum <"$1" | cut -d ' ' -f 1) $(wc -c <"$1" | tr -d ' ')"
}

archive_apt() { # work arg...
	work=$1
	shift
	apt-get -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" \
		-o Dir::State::Status=/dev/null -o Acquire::GzipIndexes=false \
		-o Acquire::Languages=none -o APT::Sandbox::User=root "$@"
}

# The suite's source index (KIND source) or this architecture's package index
# (KIND binary), fetched and checked against the signed Release.
archive_index() { # work suite kind
	work=$1 suite=$2
	ARCHIVE_URI=$(archive_uri)
	[ -n "$ARCHIVE_URI" ] || unavailable "no Debian archive URI in /etc/apt/sources.list*"
	[ -r "$ARCHIVE_KEYRING" ] || unavailable "$ARCHIVE_KEYRING is missing (debian-archive-keyring)"
	command -v gpgv >/dev/null || unavailable "gpgv is missing"
	case $3 in
	source)
		line=deb-src
		index=main/source/Sources
		;;
	binary)
		line=deb
		index=main/binary-$(dpkg --print-architecture)/Packages
		;;
	esac
	mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
	echo "$line [signed-by=$ARCHIVE_KEYRING] $ARCHIVE_URI $suite main" >"$work/sources.list"
	echo "reading the $suite index $index from $ARCHIVE_URI"
	if ! archive_apt "$work" update >"$work/apt.log" 2>&1; then
		unavailable "apt-get update for $suite failed: $(tail -n 3 "$work/apt.log" | tr '\n' ' ')"
	fi
	inrelease=$(find "$work/lists" -name "*_dists_${suite}_InRelease" | head -n 1)
	ARCHIVE_INDEX=$(find "$work/lists" -name "*_dists_${suite}_$(echo "$index" | tr / _)" |
		head -n 1)
	if [ -z "$inrelease" ] || [ -z "$ARCHIVE_INDEX" ]; then
		unavailable "apt fetched no $suite $index"
	fi
	# The chain apt itself trusts, checked here once more.
	gpgv --keyring "$ARCHIVE_KEYRING" --output "$work/Release" "$inrelease" >"$work/gpgv.log" 2>&1 ||
		unavailable "the $suite InRelease signature does not verify: $(tail -n 2 "$work/gpgv.log")"
	want=$(release_entry "$work/Release" "$index")
	if [ -z "$want" ] || [ "$want" != "$(hash_size "$ARCHIVE_INDEX")" ]; then
		unavailable "the $suite $index does not match its signed Release entry"
	fi
}

# The newest PACKAGE whose version starts with PREFIX in an index, as "VERSION
# HASH SIZE FILE": from a Sources index the named FILE among its Checksums-Sha256,
# from a Packages index its .deb (FILE is then its Filename under the archive URI).
index_entry() { # index package prefix [file]
	awk -v want_pkg="$2" -v prefix="$3" -v file="${4:-}" '
		/^$/ { flush(); next }
		/^Package:/ { pkg = $2 }
		/^Version:/ { ver = $2 }
		/^Filename:/ { deb = $2 }
		/^SHA256:/ { deb_hash = $2 }
		/^Size:/ { deb_size = $2 }
		/^[^ ]/ { in_sha = ($1 == "Checksums-Sha256:") ; next }
		in_sha && file != "" && $3 == file { hash = $1; size = $2; name = file }
		function flush() {
			if (file == "" && deb != "") { hash = deb_hash; size = deb_size; name = deb }
			if (pkg == want_pkg && index(ver, prefix) == 1 && hash != "" && ver > best) {
				best = ver; line = ver " " hash " " size " " name
			}
			pkg = ver = hash = size = name = deb = deb_hash = deb_size = ""
		}
		END { flush(); if (line != "") print line }' "$1"
}
