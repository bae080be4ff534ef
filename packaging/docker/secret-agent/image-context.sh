#!/bin/sh
# Prepares the build context of packaging/docker/secret-agent/Dockerfile:
#
#   image-context.sh BUILD_DIR OUT_DIR
#
# OUT_DIR/secret-agent is BUILD_DIR's agent, which must be statically linked (the image has no
# libc); OUT_DIR/LICENSES holds the project's licence (LICENSE at the top of the tree, when
# there is one) and, for every library linked into the binary, its Debian copyright file and
# the full text of the licences those refer to. Run on the machine that built the binary, so
# the package versions listed are the ones linked.
set -eu

build=${1:?usage: image-context.sh BUILD_DIR OUT_DIR}
out=${2:?usage: image-context.sh BUILD_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
agent=$build/agent/secret-agent

if ! file -b "$agent" | grep -Eq 'static-pie linked|statically linked'; then
	echo "image-context: $agent is not statically linked (build it with the static preset)" >&2
	exit 1
fi
mkdir -p "$out"
cp "$agent" "$out/secret-agent.tmp"
mv -f "$out/secret-agent.tmp" "$out/secret-agent"

# -dev packages of what the static link takes in; libmicrohttpd is rebuilt from the same
# Debian source package (scripts/static-deps.sh), so its copyright file applies as is.
packages="libc6-dev libsodium-dev libssl-dev libcap-dev libjson-c-dev libmicrohttpd-dev"
licenses="Apache-2.0 LGPL-2.1 GPL-2"

tmp=$out/LICENSES.tmp
{
	echo "secret-agent (statically linked) and the libraries linked into it"
	echo
	if [ -f "$top/LICENSE" ]; then
		echo "==== secret-agent"
		cat "$top/LICENSE"
		echo
	fi
	for p in $packages; do
		version=$(dpkg-query -W -f='${Version}' "$p")
		echo "==== $p $version (Debian: /usr/share/doc/$p/copyright)"
		cat "/usr/share/doc/$p/copyright"
		echo
	done
	for l in $licenses; do
		echo "==== /usr/share/common-licenses/$l"
		cat "/usr/share/common-licenses/$l"
		echo
	done
} >"$tmp"
mv -f "$tmp" "$out/LICENSES"
