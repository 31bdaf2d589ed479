#!/usr/bin/env bash
# Builds docker/Dockerfile where node:24-slim cannot be pulled (no container registry is
# reachable), on a stand-in base image made with `docker import` from the host's own node
# and npm. test/e2e/operator-image.test.ts builds with it and runs the image as the
# Deployment does: non-root, read-only root filesystem.
#
#   scripts/operator-image.sh base    import steward-local/node-base:<node major> (skipped when present)
#   scripts/operator-image.sh build   base, then docker build on it (--network host: npm ci inside
#                                     the build reaches the npm registry as the host's npm does)
#
# Environment: STEWARD_IMAGE, the tag to build (default steward:dev).
# Where node:24-slim can be pulled, build the real thing: docker build -t steward:dev -f docker/Dockerfile .
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${STEWARD_IMAGE:-steward:dev}"
NODE="$(command -v node)"
NODE_MAJOR="$("$NODE" -p 'process.versions.node.split(".")[0]')"
BASE="steward-local/node-base:$NODE_MAJOR"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Commands run at exit, whatever the outcome: temp dirs, the check's container.
cleanup=()
on_exit() {
  local c
  for c in "${cleanup[@]}"; do $c >/dev/null 2>&1 || true; done
}
trap on_exit EXIT

log() { printf '[operator-image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The host's npm: Debian's and nodesource's live under /usr/lib/node_modules, nvm's and the
# official tarball's under <prefix>/lib/node_modules.
npm_dir() {
  local d
  for d in "$(dirname "$(dirname "$NODE")")/lib/node_modules/npm" /usr/lib/node_modules/npm /usr/share/nodejs/npm; do
    [[ -f "$d/bin/npm-cli.js" ]] && { echo "$d"; return; }
  done
  die "no npm next to $NODE (looked for lib/node_modules/npm/bin/npm-cli.js)"
}

# node, the libraries ldd lists, npm, and busybox for the Dockerfile's RUN steps (sh, echo,
# mkdir, chown, chmod, ln) and the `#!/usr/bin/env node` of bin/steward.
cmd_base() {
  if docker image inspect "$BASE" >/dev/null 2>&1; then log "$BASE exists"; return; fi
  local root lib npm applet
  [[ "$(ldd /bin/busybox 2>&1 || true)" == *"not a dynamic executable"* ]] \
    || die "/bin/busybox is missing or not static: apt-get install -y busybox-static"
  root="$(mktemp -d)"
  cleanup+=("rm -rf $root")
  install -D -m 0755 "$NODE" "$root/usr/local/bin/node"
  for lib in $(ldd "$NODE" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  npm="$(npm_dir)"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  install -D -m 0755 /bin/busybox "$root/bin/busybox"
  mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/tmp" "$root/root"
  for applet in sh ls cat mkdir chown chmod ln rm cp mv; do ln -s busybox "$root/bin/$applet"; done
  ln -s /bin/busybox "$root/usr/bin/env"
  ln -s /bin/busybox "$root/usr/sbin/nologin"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  # The host's trust store: where npm reaches the registry through a TLS-inspecting proxy,
  # its CA is there (as it is for the host's own npm), and npm ci inside the build needs it.
  local ca_env=()
  if [[ -f "$CA_BUNDLE" ]]; then
    install -D -m 0644 "$CA_BUNDLE" "$root$CA_BUNDLE"
    ca_env=(--change "ENV NODE_EXTRA_CA_CERTS=$CA_BUNDLE")
  fi
  tar --owner=0 --group=0 --numeric-owner -C "$root" -c . \
    | docker import --change "ENV PATH=$IMAGE_PATH" "${ca_env[@]}" --change 'CMD ["node"]' \
        --message "stand-in for node:$NODE_MAJOR-slim: the host's node $("$NODE" --version) and npm" - "$BASE" >/dev/null
  log "imported $BASE (node $("$NODE" --version), npm $(node "$npm/bin/npm-cli.js" --version 2>/dev/null))"
}

cmd_build() {
  cmd_base
  local t0=$SECONDS old
  old="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
  docker build --force-rm --network host --build-arg "NODE_IMAGE=$BASE" -t "$IMAGE" -f docker/Dockerfile . >&2
  # The image this build replaced is left untagged; drop it unless a container still uses it.
  if [[ -n "$old" && "$old" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
  log "built $IMAGE on $BASE in $((SECONDS - t0))s"
}

case "${1:-}" in
  base) cmd_base ;;
  build) cmd_build ;;
  *) echo "usage: $0 {base|build}" >&2; exit 2 ;;
esac
