#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# OpenSSH 10.3p1's sshd, sshd-session and sshd-auth, built with PAM, for the
# end-to-end tests (tests/e2e/e2e_sshd.py runs them next to the system's sshd).
#
#   tests/e2e/build-openssh.sh DEST
#
# DEST (under the build tree) gets sbin/sshd and libexec/sshd-session and
# sshd-auth, copied from a cache outside the tree that is built once per machine
# (OPENSSH_CACHE, default /var/cache/pam_nextpay-tests).  The source comes
# through apt from the Debian archive this machine's apt already uses, with a
# deb-src entry for a newer suite in a private apt directory (the machine's apt
# configuration is left alone), and is checked along the archive's own chain:
# the InRelease signature (gpgv, Debian's archive keyring), the Sources index's
# SHA-256 in it, the tarball's SHA-256 and size in that index.
#
# The tests must still run where this cannot work, so this script fails only on
# a usage error.  Otherwise DEST ends up with exactly one of:
#   sbin/sshd ...       built (or copied from the cache) and checked
#   unavailable.txt     the source could not be had, or not root: the tests skip
#                       with this reason
#   failed.txt          the source was there but the build failed: the tests
#                       fail with this text (the end of the build log)
set -u

VERSION=10.3p1
# The newer Debian suite whose source index carries it (OPENSSH_SUITE: another).
SUITE=${OPENSSH_SUITE:-trixie-backports}
# Part of the cache's name: change it when the way of building changes.
RECIPE=r1
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Compiled into the binaries; the tests create it as Debian's own sshd expects.
PRIVSEP_DIR=/run/sshd
FILES="sbin/sshd libexec/sshd-session libexec/sshd-auth"

if [ $# -ne 1 ] || [ "${1#/}" = "$1" ]; then
	echo "usage: $0 ABSOLUTE_DEST_DIR" >&2
	exit 2
fi
DEST=$1
CACHE_ROOT=${OPENSSH_CACHE:-/var/cache/pam_nextpay-tests}
CACHE=$CACHE_ROOT/openssh-$VERSION-$RECIPE
WORK=""

say() { echo "openssh $VERSION: $*"; }

cleanup() { [ -n "$WORK" ] && rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Leaves DEST with only a note in it, and ends the script successfully.
note() { # file text
	rm -rf "$DEST"
	mkdir -p "$DEST"
	printf '%s\n' "$2" >"$DEST/$1"
	say "$2"
	exit 0
}
unavailable() { note unavailable.txt "OpenSSH $VERSION is not available: $*"; }

# A cache entry is whole (written by a rename) and ours: root's, nobody else may write.
cache_ok() {
	[ -f "$CACHE/version.txt" ] || return 1
	for f in $FILES; do
		[ -f "$CACHE/$f" ] && [ -x "$CACHE/$f" ] && [ ! -L "$CACHE/$f" ] || return 1
		[ -z "$(find "$CACHE/$f" ! -user 0 -o -perm /022)" ] || return 1
	done
}

copy_from_cache() {
	rm -rf "$DEST.tmp"
	mkdir -p "$DEST.tmp/sbin" "$DEST.tmp/libexec" || return 1
	for f in $FILES version.txt source.txt; do
		cp -p "$CACHE/$f" "$DEST.tmp/$f" || return 1
	done
	# sshd -V answers with the release it was built from, or this is not it.
	version=$("$DEST.tmp/sbin/sshd" -V 2>&1)
	case $version in
	"OpenSSH_$VERSION"*) ;;
	*)
		rm -rf "$DEST.tmp"
		note failed.txt "$DEST.tmp/sbin/sshd -V says \"$version\", not OpenSSH_$VERSION"
		;;
	esac
	rm -rf "$DEST"
	mv "$DEST.tmp" "$DEST"
	say "ready in $DEST ($version)"
	exit 0
}

# The URI of the Debian archive apt already uses (not the security archive).
archive_uri() {
	{
		sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
			tr ' ' '\n'
		sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | grep -E '^https?://[^[:space:]]+/debian/?$' | head -n 1
}

# SHA256 of PATH in a Release file's "SHA256:" section, and its size: "HASH SIZE".
release_entry() { # release path
	awk -v want="$2" '
		/^[^ ]/ { in_sha = ($0 == "SHA256:") ; next }
		in_sha && $3 == want { print $1, $2; exit }' "$1"
}

# "VERSION HASH SIZE" of the orig tarball of the newest openssh VERSION-* in a Sources index.
sources_entry() { # sources tarball
	awk -v tarball="$2" -v upstream="1:$VERSION-" '
		/^$/ { flush(); next }
		/^Package:/ { pkg = $2 }
		/^Version:/ { ver = $2 }
		/^[^ ]/ { in_sha = ($1 == "Checksums-Sha256:") ; next }
		in_sha && $3 == tarball { hash = $1; size = $2 }
		function flush() {
			if (pkg == "openssh" && index(ver, upstream) == 1 && hash != "" && ver > best) {
				best = ver; line = ver " " hash " " size
			}
			pkg = ver = hash = size = ""
		}
		END { flush(); if (line != "") print line }' "$1"
}

fetch_source() {
	uri=$(archive_uri)
	[ -n "$uri" ] || unavailable "no Debian archive URI in /etc/apt/sources.list*"
	[ -r "$KEYRING" ] || unavailable "$KEYRING is missing (debian-archive-keyring)"
	command -v gpgv >/dev/null || unavailable "gpgv is missing"
	mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial"
	echo "deb-src [signed-by=$KEYRING] $uri $SUITE main" >"$WORK/sources.list"
	set -- -o Dir::Etc::SourceList="$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$WORK/lists" -o Dir::Cache="$WORK/cache" \
		-o Acquire::GzipIndexes=false -o Acquire::Languages=none -o APT::Sandbox::User=root
	say "reading the $SUITE source index from $uri"
	if ! apt-get "$@" update >"$WORK/apt.log" 2>&1; then
		unavailable "apt-get update for $SUITE failed: $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
	fi
	inrelease=$(find "$WORK/lists" -name "*_dists_${SUITE}_InRelease" | head -n 1)
	sources=$(find "$WORK/lists" -name "*_dists_${SUITE}_main_source_Sources" | head -n 1)
	if [ -z "$inrelease" ] || [ -z "$sources" ]; then
		unavailable "apt fetched no $SUITE source index"
	fi
	# The chain apt itself trusts, checked here once more.
	gpgv --keyring "$KEYRING" --output "$WORK/Release" "$inrelease" >"$WORK/gpgv.log" 2>&1 ||
		unavailable "the $SUITE InRelease signature does not verify: $(tail -n 2 "$WORK/gpgv.log")"
	want=$(release_entry "$WORK/Release" main/source/Sources)
	got="$(sha256sum <"$sources" | cut -d ' ' -f 1) $(wc -c <"$sources" | tr -d ' ')"
	if [ -z "$want" ] || [ "$want" != "$got" ]; then
		unavailable "the $SUITE Sources index does not match its signed Release entry"
	fi
	tarball=openssh_$VERSION.orig.tar.gz
	entry=$(sources_entry "$sources" "$tarball")
	[ -n "$entry" ] || unavailable "$SUITE carries no openssh 1:$VERSION-*"
	set -- "$@" source --download-only "openssh=${entry%% *}"
	# The .orig.tar.gz often arrives while the .asc and the Debian diff do not,
	# and apt then exits non-zero: the tarball and its checksum decide.
	(cd "$WORK" && apt-get "$@" >"$WORK/apt.log" 2>&1)
	[ -f "$WORK/$tarball" ] ||
		unavailable "apt-get source brought no $tarball: $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
	got="$(sha256sum <"$WORK/$tarball" | cut -d ' ' -f 1) $(wc -c <"$WORK/$tarball" | tr -d ' ')"
	[ "$got" = "${entry#* }" ] ||
		unavailable "$tarball does not match the signed Sources index (${entry#* }, got $got)"
	echo "$tarball from $uri $SUITE (openssh ${entry%% *}), sha256 ${got% *}" >"$WORK/source.txt"
	say "$(cat "$WORK/source.txt")"
}

build() {
	say "building sshd, sshd-session and sshd-auth (a few minutes)"
	tar -xzf "$WORK/$tarball" -C "$WORK" || note failed.txt "cannot unpack $tarball"
	src=$WORK/openssh-$VERSION
	stage=$CACHE.tmp.$$
	log=$WORK/build.log
	if ! (cd "$src" &&
		./configure --prefix="$CACHE" --sysconfdir="$CACHE/etc" --with-pam \
			--with-privsep-path="$PRIVSEP_DIR" &&
		make -j2 sshd sshd-session sshd-auth) >"$log" 2>&1; then
		note failed.txt "building OpenSSH $VERSION failed; the end of its log:
$(tail -n 25 "$log")"
	fi
	rm -rf "$stage"
	mkdir -p "$stage/sbin" "$stage/libexec"
	# Stripped, as "make install" and distributions install them.
	if ! { install -m 0755 -s "$src/sshd" "$stage/sbin/sshd" &&
		install -m 0755 -s "$src/sshd-session" "$src/sshd-auth" "$stage/libexec/" &&
		cp "$WORK/source.txt" "$stage/source.txt" &&
		"$stage/sbin/sshd" -V >"$stage/version.txt" 2>&1; }; then
		note failed.txt "installing OpenSSH $VERSION into $stage failed"
	fi
	rm -rf "$CACHE"
	mv "$stage" "$CACHE"
}

if [ "$(id -u)" -ne 0 ]; then
	# Only root can run the tests that use it (and write the machine's cache).
	unavailable "not built: needs root (the sshd end-to-end tests run as root)"
fi
if ! mkdir -p "$CACHE_ROOT"; then
	unavailable "cannot create $CACHE_ROOT"
fi
# What is in it runs as root: only root may have written there.
if [ -n "$(find "$CACHE_ROOT" -maxdepth 0 \( ! -user 0 -o -perm /022 \))" ]; then
	unavailable "$CACHE_ROOT is not root's alone (owner or mode): not used"
fi
# One build per machine, even with two make runs at once.
exec 9>"$CACHE_ROOT/.lock"
flock 9
cache_ok && copy_from_cache
WORK=$(mktemp -d /tmp/pam_nextpay-openssh.XXXXXX) || unavailable "no temporary directory"
fetch_source
build
cache_ok || note failed.txt "the fresh build in $CACHE is incomplete"
copy_from_cache
