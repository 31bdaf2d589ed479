#!/usr/bin/env bash
# One compose command for docs, tests and CI: users have the `docker compose` v2 plugin,
# Debian (and so CI and the sandbox) only has docker-compose 1.29. Both read
# docker/compose.yaml (format 2.4) the same way.
set -euo pipefail
if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
fi
if command -v docker-compose >/dev/null 2>&1; then
  exec docker-compose "$@"
fi
echo "error: neither 'docker compose' nor 'docker-compose' works;" \
     "install one (Debian: apt-get install -y docker-compose)" >&2
exit 127
