#!/bin/sh
# Lays out the backend image's users and directories. Run as root at image build time by the
# Dockerfile, and by the container test (tests/container/) inside its Debian 12 root, so the
# image and the test share one layout. No secret, key or certificate is placed here: the
# agent writes them at run time.
set -eu

groupadd --system --gid 1000 cybermesh
useradd --system --uid 1000 --gid 1000 --home-dir /app --no-create-home \
	--shell /usr/sbin/nologin cybermesh

install -d -o root -g root -m 0755 /app /etc/secret-agent
install -d -o 1000 -g 1000 -m 0700 /app/keys
install -d -o 1000 -g 1000 -m 0750 /app/logs
# /app/certs and /tmp/keys are created by the agent (or are emptyDirs in Kubernetes).
install -o root -g root -m 0644 "${1:-secret-agent.conf}" /etc/secret-agent/backend.conf
