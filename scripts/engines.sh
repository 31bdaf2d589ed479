#!/usr/bin/env bash
# Makes the machine ready for the integration tests and the demo: the real Docker engine,
# compose, Prometheus, Alertmanager and etcd from Debian, Chromium for the console's browser
# tests, and the two local images (no registry is
# reachable, see scripts/build-images.sh). Everything binds 127.0.0.1 only.
#
# Usage: scripts/engines.sh up|down|restart-docker [SECONDS]
#   up              install what is missing (root), start dockerd if it does not answer,
#                   build the images. Idempotent: on a ready machine it takes ~0.1 s.
#   down            stop dockerd, but only if `up` started it.
#   restart-docker  stop and start dockerd (for the test that Steward survives a daemon
#                   restart); with --live-restore the containers keep running. With
#                   SECONDS, the daemon stays down that long first (an outage).
#
# The STEWARD_DOCKERD_* variables exist so this script can be exercised against a scratch
# daemon (its own -H/--data-root/--exec-root) without touching the real one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

PIDFILE=${STEWARD_DOCKERD_PIDFILE:-/var/run/docker.pid}
LOG=${STEWARD_DOCKERD_LOG:-/var/log/steward-dockerd.log}
MARKER=${STEWARD_DOCKERD_MARKER:-/var/run/steward-dockerd.started}
WAIT_SECONDS=30

# No bridge, no iptables: the sandbox and CI allow loopback only and every container runs
# with network_mode: host. --live-restore keeps containers up across a daemon restart.
DOCKERD_FLAGS=(--bridge=none --iptables=false --ip-masq=false --ip6tables=false
               --live-restore --pidfile "$PIDFILE")
read -r -a extra_flags <<<"${STEWARD_DOCKERD_EXTRA_FLAGS:-}"
DOCKERD_FLAGS+=("${extra_flags[@]}")

# chromium: the console's browser tests. containernetworking-plugins: the loopback CNI
# plugin of the test node (scripts/control-plane.sh up --node; its containerd comes with docker.io).
# zsh and fish: the shell-completion test runs steward's completion scripts in each shell.
# prometheus-alertmanager: the real Alertmanager the alert-intake tests and the bench post
# through (test/support/alerting.ts runs it and Prometheus as host processes).
# lua5.1 and lua-dkjson: the Argo CD health checks' test runs them as Argo CD does (Lua 5.1)
# on the JSON of objects Steward wrote (test/manifests/argocd-health.test.ts).
PACKAGES=(docker.io docker-compose prometheus prometheus-alertmanager etcd-server etcd-client busybox-static chromium containernetworking-plugins zsh fish lua5.1 lua-dkjson)

log() { printf '[engines %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[engines] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Bounded: a wedged daemon must fail the wait, not hang CI.
daemon_answers() { timeout 10 docker info >/dev/null 2>&1; }

# A dockerd we started and that died stays a zombie until we exit, so /proc/<pid> alone
# does not tell.
alive() {
  local state
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

# Only a pid whose process is really dockerd: a stale pidfile may name a reused pid.
dockerd_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

missing_tools() {
  local tool
  for tool in dockerd docker prometheus prometheus-alertmanager etcd etcdctl containerd zsh fish lua5.1; do
    command -v "$tool" >/dev/null 2>&1 || echo "$tool"
  done
  [ -f /usr/share/lua/5.1/dkjson.lua ] || echo lua-dkjson
  [ -x /usr/lib/cni/loopback ] || echo containernetworking-plugins
  # Users have the compose v2 plugin, Debian has docker-compose; either will do.
  if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
    echo docker-compose
  fi
  # build-images.sh copies busybox into the images without any libraries, so it must be
  # the static build. (ldd exits 1 for a static binary, hence no pipe under pipefail.)
  if [[ "$(ldd /bin/busybox 2>&1 || true)" != *"not a dynamic executable"* ]]; then
    echo busybox-static
  fi
  # The console's browser tests drive this binary (playwright-core, no browser download).
  [ -x /usr/lib/chromium/chromium ] || echo chromium
}

install_missing() {
  local missing
  missing=$(missing_tools | tr '\n' ' ')
  [ -z "$missing" ] && return
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${PACKAGES[*]}"
  if ! is_root; then
    printf 'missing: %s\nrun as root:\n  sudo sh -c '"'%s'"'\n' "$missing" "$cmd" >&2
    exit 1
  fi
  log "missing: $missing; installing ${PACKAGES[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
  [ -z "$(missing_tools)" ] || die "still missing after apt-get install: $(missing_tools | tr '\n' ' ')"
}

# $1: the pid of a dockerd we just started, so that one that exits at once (bad flag, a
# daemon already holding the pidfile) fails now rather than after the whole wait.
wait_for_daemon() {
  local pid=${1:-} deadline=$((SECONDS + WAIT_SECONDS)) why
  until daemon_answers; do
    why=""
    [ "$SECONDS" -ge "$deadline" ] && why="did not answer within ${WAIT_SECONDS}s"
    [ -n "$pid" ] && ! alive "$pid" && why="exited"
    if [ -n "$why" ]; then
      echo "[engines] error: dockerd $why; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

# setsid + nohup: the daemon must outlive this script and the test process that ran it.
start_dockerd() {
  log "starting dockerd ${DOCKERD_FLAGS[*]} (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  setsid nohup dockerd "${DOCKERD_FLAGS[@]}" >>"$LOG" 2>&1 </dev/null &
  wait_for_daemon "$!"
  log "dockerd ready (pid $(dockerd_pid || echo '?'))"
}

stop_dockerd() {
  local pid deadline
  pid=$(dockerd_pid) || { log "no dockerd running per $PIDFILE"; return 0; }
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  deadline=$((SECONDS + WAIT_SECONDS))
  while alive "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || die "dockerd (pid $pid) still running ${WAIT_SECONDS}s after SIGTERM"
    sleep 0.2
  done
  log "dockerd stopped"
}

cmd_up() {
  install_missing
  if ! daemon_answers; then
    is_root || die "the Docker daemon does not answer and only root can start it: sudo bash $0 up"
    if pid=$(dockerd_pid); then
      # Running but not answering yet (still starting): give it the same time as ours.
      log "dockerd (pid $pid) is running but does not answer yet; waiting"
      wait_for_daemon
    else
      start_dockerd
      # So that `down` stops only a daemon this script started, never someone else's.
      dockerd_pid >"$MARKER"
    fi
  fi
  bash "$here/build-images.sh"
}

cmd_down() {
  if [ ! -f "$MARKER" ]; then
    log "dockerd was not started by engines.sh up; leaving it running"
    return
  fi
  stop_dockerd
  rm -f "$MARKER"
}

cmd_restart_docker() {
  is_root || die "only root can restart dockerd: sudo bash $0 restart-docker"
  # A daemon started by someone else may lack --live-restore; then its containers stop
  # with it and stay stopped (restart: "no"). Say so, since a test would see it.
  if [ "$(timeout 10 docker info --format '{{.LiveRestoreEnabled}}' 2>/dev/null)" = false ]; then
    log "warning: the running dockerd has live-restore off; its containers stop with it"
  fi
  local down="${1:-0}"
  [[ "$down" =~ ^[0-9]+$ ]] || die "restart-docker: SECONDS must be a whole number, got '$down'"
  stop_dockerd
  if [ "$down" -gt 0 ]; then log "dockerd stays down for ${down}s"; sleep "$down"; fi
  start_dockerd
  # Keep ownership as it was: if `up` started the old daemon, `down` stops the new one;
  # if someone else's daemon was replaced, the new one is left running by `down` too.
  if [ -f "$MARKER" ]; then
    dockerd_pid >"$MARKER"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart-docker) cmd_restart_docker "${2:-0}" ;;
  *) echo "usage: $0 up|down|restart-docker [SECONDS]" >&2; exit 2 ;;
esac
