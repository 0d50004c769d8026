#!/usr/bin/env bash
# Runs the whole test suite: fast unit tests beside the code, then the end-to-end tests that start
# real coordinators, agents, Blender, podman and Chromium. Extra arguments name test files to run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
fi

echo "drover: type-checking"
npx tsc --noEmit -p .
npx tsc --noEmit -p web

echo "drover: running ${#files[@]} test files"
# Test files run as separate processes, a few at a time: most e2e tests wait on real processes.
exec node --import tsx --test --test-concurrency="${DROVER_TEST_CONCURRENCY:-3}" --test-reporter=spec "${files[@]}"
