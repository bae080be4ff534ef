#!/bin/sh
# Lays out the AI service image's users and directories. Run as root at image build time by
# the Dockerfile, and by the container test (tests/container/) inside its Debian 12 root, so the
# image and the test share one layout. No secret, key or certificate is placed here: the
# agent writes them at run time.
set -eu

groupadd --system --gid 1001 aiservice
useradd --system --uid 1001 --gid 1001 --home-dir /app --no-create-home \
	--shell /usr/sbin/nologin aiservice

install -d -o root -g root -m 0755 /app /etc/secret-agent
install -d -o 1001 -g 1001 -m 0750 /app/data /app/logs
# /app/data/models is mounted (read-only) at run time; /tmp/keys is created by the agent.
install -o root -g root -m 0644 "${1:-secret-agent.conf}" /etc/secret-agent/ai-service.conf
