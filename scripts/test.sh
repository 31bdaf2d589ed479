#!/usr/bin/env bash
# Runs the test files given (default: all of test/), one file at a time: the
# integration tests share one Docker engine and one etcd cluster.
#
# Kubernetes: test files that use test/support/kube.ts need an API server, those that use
# test/support/node.ts the test node too (pods that really run; root). The files without
# the node run first, on an API server without one (no controllers, no kubelet: what they
# were written for, and no time spent building or starting the node); then the node is
# added and its files run. Unless KUBECONFIG already names a cluster, this script starts
# what they need and at the end stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  mapfile -t files < <(find test -name '*.test.ts' | sort)
else
  files=("$@")
fi

without_node=()
on_node=()
needs_kube=false
for f in "${files[@]}"; do
  if grep -q "support/node.js" "$f"; then
    on_node+=("$f")
  else
    without_node+=("$f")
    if grep -q "support/kube.js" "$f"; then needs_kube=true; fi
  fi
done

manage_cluster=false
if [ -f scripts/control-plane.sh ] && [ -z "${KUBECONFIG:-}" ]; then manage_cluster=true; fi
# What this script started, so that is all it stops: nothing, the cluster, or the node only.
started=none
stop_started() {
  case "$started" in
    cluster) bash scripts/control-plane.sh down >/dev/null ;;
    node) bash scripts/control-plane.sh down-node >/dev/null ;;
  esac
}
trap stop_started EXIT

control_plane() { bash scripts/control-plane.sh "$@"; }
run_tests() { node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"; }

# Test files that run helm (the chart tests, the monitoring kit's) need it built once
# (scripts/helm.sh: from the Go module proxy into the control plane's cache, cached).
for f in "${files[@]}"; do
  if grep -q "lib/helm.js" "$f"; then bash scripts/helm.sh build; break; fi
done

status=0
if [ "${#without_node[@]}" -gt 0 ]; then
  if [ "$needs_kube" = true ] && [ "$manage_cluster" = true ]; then
    if control_plane status >/dev/null 2>&1; then
      eval "$(control_plane env)"
    else
      control_plane build
      eval "$(control_plane up)"
      started=cluster
    fi
  fi
  run_tests "${without_node[@]}" || status=$?
fi
if [ "${#on_node[@]}" -gt 0 ]; then
  if [ "$manage_cluster" = true ]; then
    if control_plane status --node >/dev/null 2>&1; then
      eval "$(control_plane env)"
    else
      control_plane build --node
      # On a running control plane (this script's or another's) `up --node` adds the node.
      if [ "$started" = none ] && control_plane status >/dev/null 2>&1; then started=node; fi
      eval "$(control_plane up --node)"
      if [ "$started" = none ]; then started=cluster; fi
    fi
  fi
  run_tests "${on_node[@]}" || status=$?
fi
exit "$status"
