#!/usr/bin/env bash
# helm, built from the Go module proxy into the cache the test control plane uses, for the
# chart tests (helm lint, helm template, helm install on the test API server) and for
# `npm run gen:manifests` (manifests/ is the chart rendered with manifests/values.yaml).
#
#   scripts/helm.sh build   build the pinned helm (skipped when it exists); one builder at a time
#   scripts/helm.sh path    print the path of the helm binary (after build)
#
# Environment:
#   STEWARD_K8S_CACHE     cache dir (default /var/cache/steward-k8s), shared with
#                         scripts/control-plane.sh: GOMODCACHE and GOCACHE live there, so
#                         modules both builds use are downloaded once
#   STEWARD_HELM_VERSION  override the pinned version
#
# helm.sh/helm/v4's go.mod has no replace directives, so `go install …@version` builds it
# with exactly the dependency versions helm pins (its go.sum), and no wrapper module is
# needed (unlike kube-apiserver in control-plane.sh). Built with `nice`: the machine is shared.
set -euo pipefail

HELM_VERSION="${STEWARD_HELM_VERSION:-v4.3.2}"
CACHE="${STEWARD_K8S_CACHE:-/var/cache/steward-k8s}"
VERSION_DIR="$CACHE/helm-$HELM_VERSION"
HELM="$VERSION_DIR/bin/helm"

log() { printf '[helm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "no Go toolchain found (need go >= 1.26 on PATH or at /usr/local/go/bin/go)"
  fi
}

cmd_build() {
  if [[ -x "$HELM" ]]; then
    log "$HELM present; skipping build"
    return 0
  fi
  mkdir -p "$VERSION_DIR"
  # One builder at a time; a second caller waits and then finds the binary.
  exec 9>"$VERSION_DIR/.build.lock"
  flock 9
  if [[ -x "$HELM" ]]; then log "built by a concurrent run"; return 0; fi
  local go t0 out
  go="$(find_go)"
  # The same caches as scripts/control-plane.sh; -modcacherw so the cache can be removed with rm -rf.
  export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache" GOFLAGS="-modcacherw -buildvcs=false" \
    CGO_ENABLED=0 GOWORK=off GOTOOLCHAIN=local
  out="$VERSION_DIR/bin.partial"
  rm -rf "$out"
  mkdir -p "$out"
  log "building helm $HELM_VERSION with $("$go" version) (GOMODCACHE=$GOMODCACHE GOCACHE=$GOCACHE)"
  t0=$SECONDS
  GOBIN="$out" nice -n 10 "$go" install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" || die "building helm $HELM_VERSION failed"
  rm -rf "$VERSION_DIR/bin"
  mv "$out" "$VERSION_DIR/bin"
  log "helm $HELM_VERSION built in $((SECONDS - t0))s: $("$HELM" version --short)"
}

case "${1:-}" in
  build) cmd_build ;;
  path) echo "$HELM" ;;
  *) echo "usage: $0 {build|path}" >&2; exit 2 ;;
esac
