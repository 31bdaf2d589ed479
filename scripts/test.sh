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
# Test files that use test/support/kube.ts need an API server: start the control plane
# unless KUBECONFIG already names one, and stop it at the end only if this script started it.
needs_kube=false
for f in "${files[@]}"; do
  if grep -q "support/kube.js" "$f"; then needs_kube=true; fi
done
if [ "$needs_kube" = true ] && [ -f scripts/control-plane.sh ] && [ -z "${KUBECONFIG:-}" ]; then
  if bash scripts/control-plane.sh status >/dev/null 2>&1; then
    eval "$(bash scripts/control-plane.sh env)"
  else
    bash scripts/control-plane.sh build
    eval "$(bash scripts/control-plane.sh up)"
    trap 'bash scripts/control-plane.sh down >/dev/null' EXIT
  fi
fi
# Test files that run helm (the chart tests, the monitoring kit's) need it built once
# (scripts/helm.sh: from the Go module proxy into the control plane's cache, cached).
for f in "${files[@]}"; do
  if grep -q "lib/helm.js" "$f"; then bash scripts/helm.sh build; break; fi
done
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
