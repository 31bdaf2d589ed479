#!/usr/bin/env bash
# Runs the test files given (default: all of test/), one file at a time: the
# integration tests share one Docker engine and one etcd cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  mapfile -t files < <(find test -name '*.test.ts' | sort)
else
  files=("$@")
fi
# Test files that use test/support/kube.ts need an API server, those that use
# test/support/node.ts a node too (pods that really run; root): start what they need unless
# KUBECONFIG already names a cluster, and at the end stop only what this script started.
needs_kube=false
needs_node=false
for f in "${files[@]}"; do
  if grep -q "support/kube.js" "$f"; then needs_kube=true; fi
  if grep -q "support/node.js" "$f"; then needs_kube=true; needs_node=true; fi
done
if [ "$needs_kube" = true ] && [ -f scripts/control-plane.sh ] && [ -z "${KUBECONFIG:-}" ]; then
  node_flag=()
  if [ "$needs_node" = true ]; then node_flag=(--node); fi
  if bash scripts/control-plane.sh status "${node_flag[@]}" >/dev/null 2>&1; then
    eval "$(bash scripts/control-plane.sh env)"
  elif [ "$needs_node" = true ] && bash scripts/control-plane.sh status >/dev/null 2>&1; then
    bash scripts/control-plane.sh build --node
    eval "$(bash scripts/control-plane.sh up --node)"
    trap 'bash scripts/control-plane.sh down-node >/dev/null' EXIT
  else
    bash scripts/control-plane.sh build "${node_flag[@]}"
    eval "$(bash scripts/control-plane.sh up "${node_flag[@]}")"
    trap 'bash scripts/control-plane.sh down >/dev/null' EXIT
  fi
fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
