#!/usr/bin/env bash
# Builds (once) and prints the path of a minimal Debian 12 root filesystem that the container
# tests (tests/container/) lay out as each service's container. No Docker engine is needed:
# the tests chroot into this tree inside new pid and mount namespaces.
#
# debootstrap takes minutes, so the tree is cached under $SFS_ROOTFS_CACHE (default
# /var/cache/secret-agent-test/rootfs) in a directory named by a hash of everything that decides
# its content (layout version, suite, variant, mirror, extra packages). A tree is only published
# (renamed into place) once debootstrap has finished, so an interrupted run never leaves a
# half-built root behind a valid name; concurrent callers serialize on a lock.
#
# Usage: scripts/container-root.sh            prints the rootfs path on stdout (logs on stderr)
#        scripts/container-root.sh --key      prints only the cache key
# Environment: SFS_ROOTFS_CACHE, SFS_DEBIAN_MIRROR (default: from /etc/apt/sources.list(.d)).
# Exit: 0 ready; 1 failure; 77 cannot run here (not root, no debootstrap) -- CTest's "skipped".
set -euo pipefail

suite=bookworm
variant=minbase
# The .deb's shlibdeps-computed Depends: present in the root so `dpkg -i` needs no network.
# Keep in step with the libraries the agent links (CMakeLists.txt pkg_check_modules).
# Bump when the way the tree is built changes (not for edits that leave the tree the same).
layout=1
include=libsodium23,libcap2,libjson-c5,libssl3,libmicrohttpd12
cache=${SFS_ROOTFS_CACHE:-/var/cache/secret-agent-test/rootfs}

log() { printf 'container-root: %s\n' "$*" >&2; }

# The first enabled Debian mirror that serves $suite/main, in either sources format.
find_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			function flush() {
				if (uri != "" && types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "( |$)") &&
				    comps ~ /(^| )main( |$)/ && enabled !~ /^[Nn]o/) { print uri; found = 1; exit }
				uri = types = suites = comps = enabled = ""
			}
			/^[[:space:]]*$/ { flush(); next }
			/^[[:space:]]*#/ { next }
			{
				key = $1; sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
				if (key == "Types") types = $0
				else if (key == "URIs") { split($0, u, " "); uri = u[1] }
				else if (key == "Suites") suites = $0
				else if (key == "Components") comps = $0
				else if (key == "Enabled") enabled = $0
			}
			END { if (!found) flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v suite="$suite" '$1 == "deb" && $3 == suite { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }'
	done
}

mirror=${SFS_DEBIAN_MIRROR:-$(find_mirror | head -n 1)}
if [ -z "$mirror" ]; then
	log "no Debian mirror for $suite/main in /etc/apt/sources.list(.d); set SFS_DEBIAN_MIRROR"
	exit 1
fi

key=$(printf '%s\n' "$layout" "$suite" "$variant" "$mirror" "$include" "$(dpkg --print-architecture)" |
	sha256sum | cut -c1-16)
if [ "${1:-}" = "--key" ]; then
	echo "$key"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	log "SKIPPED: debootstrap and chroot need root"
	exit 77
fi
if ! command -v debootstrap >/dev/null; then
	log "SKIPPED: debootstrap is not installed (scripts/install-deps.sh installs it)"
	exit 77
fi

root="$cache/$key"
if [ -f "$root/.secret-agent-rootfs-complete" ]; then
	echo "$root"
	exit 0
fi

mkdir -p "$cache"
chmod 0755 "$cache"
exec 9>"$cache/.lock"
flock 9
# Another caller may have built it while we waited for the lock.
if [ -f "$root/.secret-agent-rootfs-complete" ]; then
	echo "$root"
	exit 0
fi

work="$cache/.build-$key-$$"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
log "building $suite ($variant) from $mirror into $root (takes a few minutes, cached afterwards)"
if ! debootstrap --variant="$variant" --include="$include" "$suite" "$work" "$mirror" >"$cache/.debootstrap-$key.log" 2>&1; then
	log "debootstrap failed; last lines of $cache/.debootstrap-$key.log:"
	tail -n 20 "$cache/.debootstrap-$key.log" >&2
	exit 1
fi
# The downloaded .debs are not needed in the tree and would be copied into every test root.
rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*
touch "$work/.secret-agent-rootfs-complete"
rm -rf "$root"
mv "$work" "$root"
trap - EXIT
# Older trees (another key) are stale: keep the cache from growing without bound.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name '.build-*' -exec rm -rf {} +
log "ready: $root"
echo "$root"
