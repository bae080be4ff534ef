#!/usr/bin/env bash
# Makes (once) the base images the service Dockerfiles start from, without a registry:
#   docker.io/library/debian:12         the Debian 12 minbase root of scripts/container-root.sh,
#                                       less the agent's libraries that root carries for the
#                                       .deb tests, imported with `podman import`;
#   docker.io/library/debian:12-slim    the same without documentation, manuals and
#                                       translations, and with the dpkg excludes that keep later
#                                       installs that way (as the published slim image);
#   docker.io/library/python:3.11-slim  a stand-in: debian:12-slim with Debian 12's python3
#                                       (3.11), pip and cryptography, `python` and `pip` in
#                                       /usr/local/bin where the published image has them.
# Each image carries the label org.secret-agent.test.key, a hash of everything that decides its
# content (the root's cache key, the removed and added packages, this layout's version): a warm
# run finds all three and does nothing. Concurrent callers serialize on a lock.
#
# Usage: scripts/container-images.sh          makes the images, prints their names
#        scripts/container-images.sh --key    prints only the cache key
# Environment: PODMAN (default: tests/container/podman.py, the tests' podman setup), and those
# of scripts/container-root.sh.
# Exit: 0 ready; 1 failure; 77 cannot run here (not root, no debootstrap) -- CTest's "skipped".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Bump when the way the images are made changes.
layout=1
# In the root for the .deb's Depends; not in Debian's published images.
purge="libsodium23 libjson-c5 libssl3 libmicrohttpd12"
python_packages="python3 python3-pip python3-cryptography"
label=org.secret-agent.test.key
images="docker.io/library/debian:12 docker.io/library/debian:12-slim docker.io/library/python:3.11-slim"
read -r -a podman <<<"${PODMAN:-python3 $here/../tests/container/podman.py}"

log() { printf 'container-images: %s\n' "$*" >&2; }

rootkey=$("$here/container-root.sh" --key)
key=$(printf '%s\n' "$layout" "$rootkey" "$purge" "$python_packages" | sha256sum | cut -c1-16)
if [ "${1:-}" = "--key" ]; then
	echo "$key"
	exit 0
fi

current() {
	local image
	for image in $images; do
		[ "$("${podman[@]}" image inspect --format "{{index .Labels \"$label\"}}" "$image" \
			2>/dev/null)" = "$key" ] || return 1
	done
}

if current; then
	echo "$images" | tr ' ' '\n'
	exit 0
fi

set +e
root=$("$here/container-root.sh")
rc=$?
set -e
[ "$rc" -eq 0 ] || exit "$rc"

cache=${SFS_ROOTFS_CACHE:-/var/cache/secret-agent-test/rootfs}
exec 9>"$cache/.images.lock"
flock 9
if current; then
	echo "$images" | tr ' ' '\n'
	exit 0
fi

work=$(mktemp -d "$cache/.images-XXXXXX")
trap 'rm -rf "$work"' EXIT
log "making debian:12, debian:12-slim and python:3.11-slim (key $key; a few minutes, cached afterwards)"
cp -a "$root/." "$work/root"
rm -f "$work/root/.secret-agent-rootfs-complete"
# Only the packages the .deb tests added; dpkg refuses if anything else depends on them.
chroot "$work/root" dpkg --purge $purge >"$work/purge.log" 2>&1 ||
	{ cat "$work/purge.log" >&2; exit 1; }
rm -rf "$work/root"/var/cache/apt/*.bin "$work/root"/var/lib/apt/lists/* \
	"$work/root"/var/log/*.log "$work/root"/var/cache/debconf/*-old

import_image() {
	local name=$1
	shift
	# Owners and modes as in the tree; CMD as the published images.
	tar --numeric-owner --xattrs -C "$work/root" -c "$@" . |
		"${podman[@]}" import --change 'CMD ["bash"]' --change "LABEL $label=$key" - "$name" >/dev/null 2>"$work/import.log"
}

import_image docker.io/library/debian:12
# The slim image: what the published one leaves out, and dpkg told to keep leaving it out.
mkdir -p "$work/root/etc/dpkg/dpkg.cfg.d"
cat >"$work/root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
find "$work/root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$work/root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$work/root"/usr/share/{man,groff,info,lintian,linda,locale}/*
import_image docker.io/library/debian:12-slim

cat >"$work/Containerfile" <<EOF
FROM docker.io/library/debian:12-slim
RUN apt-get update \\
 && apt-get install -y --no-install-recommends $python_packages \\
 && rm -rf /var/lib/apt/lists/* \\
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \\
 && ln -s /usr/bin/python3 /usr/local/bin/python \\
 && ln -s /usr/bin/pip3 /usr/local/bin/pip
ENV LANG=C.UTF-8
LABEL $label=$key
CMD ["python3"]
EOF
# apt-get needs the host's network (the default network of a build has no route here).
if ! "${podman[@]}" build --pull=never --network host -t docker.io/library/python:3.11-slim \
	-f "$work/Containerfile" "$work" >"$work/build.log" 2>&1; then
	log "python:3.11-slim build failed; last lines:"
	tail -n 20 "$work/build.log" >&2
	exit 1
fi
# Images of older keys have lost their names: drop them.
"${podman[@]}" image prune -f >/dev/null 2>&1 || true
current || { log "images made but not found under their names"; exit 1; }
log "ready"
echo "$images" | tr ' ' '\n'
