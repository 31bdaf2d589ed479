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
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
