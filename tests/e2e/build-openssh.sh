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
. "$(dirname "$0")/../lib/debian-archive.sh"

VERSION=10.3p1
# The newer Debian suite whose source index carries it (OPENSSH_SUITE: another).
SUITE=${OPENSSH_SUITE:-trixie-backports}
# Part of the cache's name: change it when the way of building changes.
RECIPE=r1
# Compiled into the binaries; the tests create it as Debian's own sshd expects.
PRIVSEP_DIR=/run/sshd
FILES="sbin/sshd libexec/sshd-session libexec/sshd-auth"

archive_script "OpenSSH $VERSION" "$@"
CACHE_ROOT=${OPENSSH_CACHE:-/var/cache/pam_nextpay-tests}
CACHE=$CACHE_ROOT/openssh-$VERSION-$RECIPE

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

fetch_source() {
	archive_index "$WORK" "$SUITE" source
	tarball=openssh_$VERSION.orig.tar.gz
	entry=$(index_entry "$ARCHIVE_INDEX" openssh "1:$VERSION-" "$tarball")
	[ -n "$entry" ] || unavailable "$SUITE carries no openssh 1:$VERSION-*"
	version=${entry%% *}
	want=$(echo "$entry" | cut -d ' ' -f 2,3)
	# The .orig.tar.gz often arrives while the .asc and the Debian diff do not,
	# and apt then exits non-zero: the tarball and its checksum decide.
	(cd "$WORK" && archive_apt "$WORK" source --download-only "openssh=$version" >"$WORK/apt.log" 2>&1)
	[ -f "$WORK/$tarball" ] ||
		unavailable "apt-get source brought no $tarball: $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
	got=$(hash_size "$WORK/$tarball")
	[ "$got" = "$want" ] ||
		unavailable "$tarball does not match the signed Sources index ($want, got $got)"
	echo "$tarball from $ARCHIVE_URI $SUITE (openssh $version), sha256 ${got% *}" >"$WORK/source.txt"
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

cache_lock "$CACHE_ROOT"
cache_ok && copy_from_cache
WORK=$(mktemp -d /tmp/pam_nextpay-openssh.XXXXXX) || unavailable "no temporary directory"
fetch_source
build
cache_ok || note failed.txt "the fresh build in $CACHE is incomplete"
copy_from_cache
