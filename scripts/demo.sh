#!/usr/bin/env bash
# Demo of the main job on built-in defaults: a generated Ed25519 key in an env var and a CA in a
# Kubernetes-style Secret directory are validated and written with exact owner and mode; the
# agent drops to `nobody`, runs a child that shows its uid, capabilities and files; the CA is
# rotated once and the child reports the SIGHUP and the new fingerprint; SIGTERM ends it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/install-deps.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
agent=$PWD/build/release/agent/secret-agent

demo=$(mktemp -d /tmp/secret-agent-demo.XXXXXX)
chmod 0755 "$demo"
trap 'rm -rf "$demo"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A CA certificate published the way kubelet publishes a Secret volume (symlink farm).
make_ca() { # $1 = common name, $2 = output file
	openssl req -x509 -newkey ed25519 -nodes -keyout /dev/null -subj "/CN=$1" -days 365 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign \
		-out "$2" 2>/dev/null
}
publish() { # kubelet's AtomicWriter: new timestamped dir, ..data_tmp -> it, rename over ..data
	local dir=$1 src=$2 ts
	ts="..$(date +%Y_%m_%d_%H_%M_%S).$RANDOM$RANDOM"
	mkdir "$dir/$ts" && cp "$src" "$dir/$ts/ca.crt" && chmod 0755 "$dir/$ts"
	chmod 0644 "$dir/$ts/ca.crt"
	local old
	old=$(readlink "$dir/..data" 2>/dev/null || true)
	ln -sfn "$ts" "$dir/..data_tmp" && mv -T "$dir/..data_tmp" "$dir/..data"
	[ -L "$dir/ca.crt" ] || ln -s ..data/ca.crt "$dir/ca.crt"
	[ -z "$old" ] || rm -rf "${dir:?}/$old"
}
mkdir -p "$demo/secrets/ca"
chmod 0755 "$demo/secrets" "$demo/secrets/ca"
make_ca "Demo Root CA 1" "$demo/ca1.pem"
make_ca "Demo Root CA 2" "$demo/ca2.pem"
publish "$demo/secrets/ca" "$demo/ca1.pem"

# The service stand-in: shows who it is, what it may do, what it sees; reports SIGHUP.
cat >"$demo/service.sh" <<'SH'
#!/bin/sh
show() { echo "child: $*"; }
show "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status | sed 's/^/child:   /'
show "DEMO_SIGNING_KEY in my environment: $(env | grep -c '^DEMO_SIGNING_KEY=' || true)"
ls -ln "$KEYS/signing_key.pem" "$CERTS/root.crt" | sed 's/^/child:   /'
show "key fingerprint (sha256 of public key): $(openssl pkey -in "$KEYS/signing_key.pem" -pubout -outform DER | tail -c 32 | sha256sum | cut -c1-16)"
fp() { openssl x509 -in "$CERTS/root.crt" -noout -subject -fingerprint -sha256 | tr '\n' ' '; }
show "CA: $(fp)"
trap 'show "got SIGHUP; CA now: $(fp)"' HUP
trap 'show "got SIGTERM, exiting with 0"; exit 0' TERM
while :; do sleep 1 & wait $!; done
SH
chmod 0755 "$demo/service.sh"

cat >"$demo/agent.ini" <<INI
[agent]
user = nobody
on_change = signal:SIGHUP
debounce = 50ms

[secret "signing_key"]
from = env:DEMO_SIGNING_KEY
to = $demo/keys/signing_key.pem
type = ed25519
domain = demo.secret-agent/v1

[secret "root_ca"]
from = file:$demo/secrets/ca/ca.crt
to = $demo/certs/root.crt
type = x509
INI

say "configuration"
cat "$demo/agent.ini"
say "secret-agent check-config"
"$agent" check-config --config "$demo/agent.ini"

say "secret-agent run (as root; drops to nobody)"
DEMO_SIGNING_KEY=$(openssl genpkey -algorithm ed25519) KEYS=$demo/keys CERTS=$demo/certs \
	"$agent" run --config "$demo/agent.ini" -- "$demo/service.sh" &
agent_pid=$!
for _ in $(seq 50); do [ -f "$demo/certs/root.crt" ] && break; sleep 0.1; done
sleep 1
say "files on disk"
ls -ln "$demo/keys/signing_key.pem" "$demo/certs/root.crt"

say "rotating the CA (kubelet-style ..data swap)"
publish "$demo/secrets/ca" "$demo/ca2.pem"
sleep 1.5

say "SIGTERM to the agent (forwarded to the child)"
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
say "agent exited with $rc"
