#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# authselect 1.5.0, Fedora's and RHEL's tool that writes /etc/pam.d/system-auth
# and password-auth from its profiles, for tests/package/authselect_test.py.
# Debian 12 has no authselect; Debian 13 (trixie) packages 1.5.0.
#
#   tests/package/fetch-authselect.sh DEST
#
# The packages authselect and libauthselect3 come through apt from the Debian
# archive this machine's apt already uses, with a list line for trixie in a
# private apt directory (tests/lib/debian-archive.sh), checked along the
# archive's chain (InRelease signature, Packages index, each .deb's SHA-256 and
# size), and are kept in a cache outside the tree (AUTHSELECT_CACHE, default
# /var/cache/pam_nextpay-tests), so that they are fetched once per machine.
# Their source is not used: authselect's binary needs no more than Debian 12's
# glibc, popt and libselinux.  The program has its paths compiled in
# (/etc/authselect, /etc/pam.d, /usr/share/authselect), so the tests run it in a
# scratch root with chroot: DEST/root holds the two packages unpacked and this
# machine's libraries that it needs, and nothing else.
#
# The tests must still run where this cannot work, so this script fails only on
# a usage error.  Otherwise DEST ends up with exactly one of:
#   root/usr/bin/authselect ...   ready, and seen to list its profiles in the root
#   unavailable.txt     the packages could not be had, or not root: the tests skip
#                       with this reason
#   failed.txt          the packages were there but do not work: the tests fail
#                       with this text
set -u
. "$(dirname "$0")/../lib/debian-archive.sh"

VERSION=1.5.0
# The Debian suite that carries it (AUTHSELECT_SUITE: another).
SUITE=${AUTHSELECT_SUITE:-trixie}
PACKAGES="authselect libauthselect3"
# Part of the cache's name: change it when what is cached changes.
RECIPE=r1

archive_script "authselect $VERSION" "$@"
CACHE_ROOT=${AUTHSELECT_CACHE:-/var/cache/pam_nextpay-tests}
CACHE=$CACHE_ROOT/authselect-$VERSION-$RECIPE

# A cache entry is whole (written by a rename) and ours: root's, nobody else may write.
cache_ok() {
	[ -f "$CACHE/source.txt" ] || return 1
	for p in $PACKAGES; do
		[ "$(find "$CACHE" -maxdepth 1 -type f -name "${p}_*.deb" -user 0 ! -perm /022 |
			wc -l)" -eq 1 ] || return 1
	done
}

fetch() {
	archive_index "$WORK" "$SUITE" binary
	version=""
	for p in $PACKAGES; do
		entry=$(index_entry "$ARCHIVE_INDEX" "$p" "$VERSION-")
		[ -n "$entry" ] || unavailable "$SUITE carries no $p $VERSION-*"
		# Both from one source upload, or the library may not fit the program.
		[ -z "$version" ] || [ "$version" = "${entry%% *}" ] ||
			unavailable "$SUITE has authselect $version but $p ${entry%% *}"
		version=${entry%% *}
		want=$(echo "$entry" | cut -d ' ' -f 2,3)
		deb=$(basename "$(echo "$entry" | cut -d ' ' -f 4)")
		(cd "$WORK" && archive_apt "$WORK" download "$p=$version" >"$WORK/apt.log" 2>&1)
		[ -f "$WORK/$deb" ] ||
			unavailable "apt-get download brought no $deb: $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
		got=$(hash_size "$WORK/$deb")
		[ "$got" = "$want" ] ||
			unavailable "$deb does not match the signed Packages index ($want, got $got)"
		echo "$deb from $ARCHIVE_URI $SUITE, sha256 ${got% *}" >>"$WORK/source.txt"
	done
	stage=$CACHE.tmp.$$
	rm -rf "$stage"
	mkdir -p "$stage"
	cp "$WORK"/*.deb "$WORK/source.txt" "$stage/" && chmod 0644 "$stage"/* ||
		unavailable "cannot copy the packages into $stage"
	rm -rf "$CACHE"
	mv "$stage" "$CACHE"
	say "$(cat "$CACHE/source.txt")"
}

# The packages unpacked, with copies of the libraries the program takes from
# this machine (ldd's answer, the dynamic loader included), in DEST/root.
make_root() {
	root=$DEST.tmp/root
	rm -rf "$DEST.tmp"
	# What the package's installation would have made: authselect writes there.
	mkdir -p "$root/etc/authselect" "$root/etc/pam.d" "$root/tmp" ||
		note failed.txt "cannot create $root"
	for deb in "$CACHE"/*.deb; do
		dpkg-deb -x "$deb" "$root" || note failed.txt "dpkg-deb cannot unpack $deb"
	done
	rm -rf "$root/usr/share/locale"
	libdir=$(find "$root/usr/lib" -name 'libauthselect.so.*' -printf '%h\n' | head -n 1)
	LD_LIBRARY_PATH=$libdir ldd "$root/usr/bin/authselect" >"$DEST.tmp/ldd.txt" 2>&1 ||
		note failed.txt "ldd $root/usr/bin/authselect: $(cat "$DEST.tmp/ldd.txt")"
	grep -q 'not found' "$DEST.tmp/ldd.txt" &&
		note failed.txt "authselect needs what this machine lacks: $(grep 'not found' "$DEST.tmp/ldd.txt")"
	for lib in $(sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' \
		"$DEST.tmp/ldd.txt" | grep -v "^$root/"); do
		mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" ||
			note failed.txt "cannot copy $lib into $root"
	done
	cp "$CACHE/source.txt" "$DEST.tmp/source.txt"
	profiles=$(chroot "$root" /usr/bin/authselect list 2>&1)
	case $profiles in
	*"- local"*"- sssd"*) ;;
	*) note failed.txt "authselect list in $root says: $profiles" ;;
	esac
	rm -rf "$DEST"
	mv "$DEST.tmp" "$DEST"
	say "ready in $DEST/root"
	exit 0
}

cache_lock "$CACHE_ROOT"
cache_ok && make_root
WORK=$(mktemp -d /tmp/pam_nextpay-authselect.XXXXXX) || unavailable "no temporary directory"
fetch
cache_ok || note failed.txt "the fresh download in $CACHE is incomplete"
make_root
