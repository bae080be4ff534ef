#!/usr/bin/env bash
# Static libraries the `static` preset cannot take from Debian's -dev packages, built once from
# Debian's own source package and cached.
#
#   scripts/static-deps.sh libmicrohttpd     # builds if needed; prints the install prefix
#
# Debian builds libmicrohttpd with HTTPS through GnuTLS, and GnuTLS needs p11-kit, which ships
# no static archive: Debian's libmicrohttpd.a cannot go into a fully static binary. The agent's
# status listener speaks plain HTTP on a local port, so the library is rebuilt from the same
# source package (same version, Debian's patches applied) without HTTPS, and with the flags of
# the static build (PIE code for static-pie, one section per function for --gc-sections,
# stack protector and CET like the agent's own objects).
#
# The result lives in /var/cache/secret-agent-build/libmicrohttpd-<version>-<key>/, where <key>
# is a hash of the version, the configure flags and the compiler flags: changing any of them
# builds a new copy, an unchanged request costs a directory test. Needs root the first time
# (it adds a deb-src entry for the mirror the machine already uses, then runs apt-get source).
set -euo pipefail

CACHE_ROOT=${SECRET_AGENT_BUILD_CACHE:-/var/cache/secret-agent-build}
MHD_VERSION=0.9.75
MHD_CONFIGURE_FLAGS=(--enable-static --disable-shared --with-pic --disable-https --without-gnutls
  --disable-curl --disable-doc --disable-examples --disable-nls --disable-dauth
  --disable-postprocessor --disable-httpupgrade)
MHD_CFLAGS="-O2 -g0 -fPIE -ffunction-sections -fdata-sections -fstack-protector-strong \
-fcf-protection -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2"

log() { echo "static-deps: $*" >&2; }
die() { log "$*"; exit 1; }

# A deb-src twin of the Debian entry already configured (deb822 .sources or one-line .list),
# so the source package comes from the mirror and suite the binary packages came from.
SRC_LIST=/etc/apt/sources.list.d/secret-agent-deb-src.sources

ensure_deb_src() {
  local uri suite
  if [ -f "$SRC_LIST" ]; then
    return 0
  fi
  uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ && !found { print $2; found = 1 }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ && !found { print $2; found = 1 }' \
      /etc/apt/sources.list)
  fi
  uri=${uri:-http://deb.debian.org/debian}
  # shellcheck disable=SC1091
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  [ "$(id -u)" -eq 0 ] || die "adding a deb-src entry for $uri needs root"
  log "adding deb-src $uri $suite to $SRC_LIST"
  cat >"$SRC_LIST" <<EOF
# Source packages for static rebuilds (scripts/static-deps.sh): same mirror and suite as the
# binary packages.
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# The Debian revision of upstream version $2 of source package $1 the mirror carries
# (e.g. 0.9.75-6), or nothing.
source_version() {
  local out
  out=$(apt-cache showsrc "$1" 2>/dev/null || true)
  awk -v v="$2-" '$1 == "Version:" && index($2, v) == 1 && !found { print $2; found = 1 }' \
    <<<"$out"
}

# Refreshes the deb-src index only (the other lists are as fresh as the machine keeps them),
# when it lacks the package: a fresh machine, or an image that dropped /var/lib/apt/lists.
ensure_source_index() {
  if [ -n "$(source_version "$1" "$2")" ]; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "apt-get update for $SRC_LIST needs root"
  apt-get update -qq -o Dir::Etc::SourceList="$SRC_LIST" -o Dir::Etc::SourceParts=- \
    -o APT::Get::List-Cleanup=0 >&2
}

build_libmicrohttpd() {
  local key prefix work src stage debver
  key=$(printf '%s\n' "$MHD_VERSION" "${MHD_CONFIGURE_FLAGS[*]}" "$MHD_CFLAGS" \
    "$(cc --version | head -1)" | sha256sum | cut -c1-12)
  prefix=$CACHE_ROOT/libmicrohttpd-$MHD_VERSION-$key
  if [ -f "$prefix/lib/libmicrohttpd.a" ] && [ -f "$prefix/lib/pkgconfig/libmicrohttpd.pc" ]; then
    echo "$prefix"
    return 0
  fi
  mkdir -p "$CACHE_ROOT"
  # One builder at a time; the second caller finds the finished copy.
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
  if [ -f "$prefix/lib/libmicrohttpd.a" ]; then
    echo "$prefix"
    return 0
  fi
  ensure_deb_src
  ensure_source_index libmicrohttpd "$MHD_VERSION"
  work=$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")
  chmod 0755 "$work" # apt's download user writes there
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  debver=$(source_version libmicrohttpd "$MHD_VERSION")
  [ -n "$debver" ] || die "the mirror has no libmicrohttpd $MHD_VERSION source package"
  log "fetching the libmicrohttpd $debver source package into $work"
  (cd "$work" && apt-get source -qq -o APT::Sandbox::User=root "libmicrohttpd=$debver" >&2) ||
    die "apt-get source libmicrohttpd=$debver failed"
  src=$(find "$work" -maxdepth 1 -type d -name "libmicrohttpd-$MHD_VERSION" | head -1)
  [ -n "$src" ] || die "no libmicrohttpd-$MHD_VERSION directory in the source package"
  log "building in $src (${MHD_CONFIGURE_FLAGS[*]})"
  stage=$work/stage
  # Only the library, its header and its pkg-config file; the build log is shown on failure.
  if ! (
    cd "$src"
    ./configure --prefix="$prefix" "${MHD_CONFIGURE_FLAGS[@]}" CFLAGS="$MHD_CFLAGS"
    make -j"$(nproc)" -C src/microhttpd
    make -C src/microhttpd install DESTDIR="$stage"
    make -C src/include install DESTDIR="$stage"
    make install-pkgconfigDATA DESTDIR="$stage"
  ) >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "building libmicrohttpd failed"
  fi
  [ -f "$stage$prefix/lib/libmicrohttpd.a" ] || die "the build produced no libmicrohttpd.a"
  if nm "$stage$prefix/lib/libmicrohttpd.a" 2>/dev/null | grep -q ' U gnutls_'; then
    die "libmicrohttpd.a still refers to GnuTLS"
  fi
  rm -f "$stage$prefix/lib/libmicrohttpd.la"
  mv "$stage$prefix" "$prefix"
  log "installed $prefix"
  echo "$prefix"
}

case "${1:-}" in
libmicrohttpd) build_libmicrohttpd ;;
*)
  echo "usage: $0 libmicrohttpd" >&2
  exit 64
  ;;
esac
