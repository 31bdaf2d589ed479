#!/usr/bin/env bash
# Builds the two local demo/test images from host binaries with `docker import`.
# No registry is reachable in CI or the sandbox, so nothing may be pulled: the image is a
# tarball of Debian's own etcd / prometheus binaries, the libc they link and busybox.
#
# Usage: scripts/build-images.sh [--force]
#   --force  rebuild even if the image already exists (e.g. after a host package upgrade)
set -euo pipefail

ETCD_IMAGE=steward-demo/etcd:3.4
PROMETHEUS_IMAGE=steward-demo/prometheus:2.42
# import has no base image, so nothing sets PATH unless we do.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

now_ms() { date +%s%3N; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Copies a binary and every shared object ldd lists (libc, ld-linux) to the same paths in
# the root. -L because Debian's /lib64/ld-linux-x86-64.so.2 is a symlink into /usr/lib.
add_binary() {
  local root=$1 bin=$2 lib
  install -D -m 0755 "$bin" "$root$bin"
  # Static binaries make ldd exit non-zero; they simply have no libraries to copy.
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# The pieces both images share: a shell and wget for healthchecks and debugging
# (`docker exec etcd0 sh`), users for tools that look them up, a sticky /tmp.
add_base() {
  local root=$1 applet
  local busybox=/bin/busybox
  # ldd exits 1 for a static binary, hence the capture instead of a pipe under pipefail.
  if [[ "$(ldd "$busybox" 2>&1 || true)" != *"not a dynamic executable"* ]]; then
    echo "error: $busybox is not statically linked; install busybox-static" \
         "(apt-get install -y busybox-static)" >&2
    exit 1
  fi
  install -D -m 0755 "$busybox" "$root/bin/busybox"
  for applet in sh wget cat ls sleep; do
    ln -s busybox "$root/bin/$applet"
  done
  mkdir -p "$root/etc" "$root/tmp" "$root/dev" "$root/proc" "$root/sys"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n' >"$root/etc/group"
  # Go's resolver reads this; without it "localhost" may go to DNS instead of /etc/hosts.
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

import_root() {
  local root=$1 image=$2; shift 2
  # Owned by root inside the image even when a docker-group user builds it.
  tar --owner=0 --group=0 --numeric-owner -C "$root" -c . \
    | docker import "$@" \
        --change "ENV PATH=$IMAGE_PATH" \
        --change 'WORKDIR /' \
        --message "steward demo image built from host binaries" \
        - "$image" >/dev/null
}

build_etcd() {
  local root=$1
  add_base "$root"
  add_binary "$root" /usr/bin/etcd
  add_binary "$root" /usr/bin/etcdctl
  # 0700: etcd warns about a group/world-readable data dir, and a fresh named volume
  # copies this directory's mode.
  mkdir -p "$root/var/lib/etcd"
  chmod 0700 "$root/var/lib/etcd"
  # The defaults (etcd's own) listen on localhost only; compose passes the real flags.
  import_root "$root" "$ETCD_IMAGE" \
    --change 'ENTRYPOINT ["/usr/bin/etcd"]' \
    --change 'CMD ["--data-dir=/var/lib/etcd"]'
}

build_prometheus() {
  local root=$1
  add_base "$root"
  add_binary "$root" /usr/bin/prometheus
  mkdir -p "$root/etc/prometheus" "$root/prometheus"
  # A config that works on its own, so the image starts without a mount; compose
  # mounts docker/prometheus/prometheus.yml over it.
  cat >"$root/etc/prometheus/prometheus.yml" <<'YAML'
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:9090']
YAML
  # Prometheus' own default is to listen on every interface; keep it on loopback.
  import_root "$root" "$PROMETHEUS_IMAGE" \
    --change 'ENTRYPOINT ["/usr/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=127.0.0.1:9090"]'
}

build() {
  local image=$1 fn=$2 start old=""
  if image_exists "$image"; then
    if ! $force; then
      echo "image $image exists, skipping (--force to rebuild)"
      return
    fi
    old=$(docker image inspect -f '{{.Id}}' "$image")
  fi
  start=$(now_ms)
  mkdir "$workdir/$fn"
  "$fn" "$workdir/$fn"
  # The replaced image is left untagged; drop it unless a container still uses it.
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
  echo "built $image in $(( $(now_ms) - start )) ms"
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
start=$(now_ms)
build "$ETCD_IMAGE" build_etcd
build "$PROMETHEUS_IMAGE" build_prometheus
echo "images ready in $(( $(now_ms) - start )) ms"
