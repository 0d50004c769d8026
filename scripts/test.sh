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

# Longest first: scripts/run-tests.mjs starts files in the order given, so the slowest start at once and the
# short ones fill the slots beside them, instead of a long file starting last and running alone
# (the 3-minute outage of faults-outage sets the suite's floor). The times are a measured run's
# (scripts/test-durations.txt: `cp .test-output/file-timings.txt scripts/test-durations.txt` renews
# them); a file not listed there is taken for a minute long.
if [ -f scripts/test-durations.txt ]; then
  mapfile -t files < <(
    awk 'NR == FNR { for (i = 2; i <= NF; i++) if ($i ~ /\.test\.ts$/) seconds[$i] = $1; next }
         { print (($0 in seconds) ? seconds[$0] : 60), $0 }' scripts/test-durations.txt <(printf '%s\n' "${files[@]}") |
      sort -s -k1,1 -rn | cut -d' ' -f2-
  )
fi

# Type-checking and the linter run beside the tests (they do not need them, and most of their time
# is spent waiting on processes); their verdict counts the same: the suite fails on a type error or
# a lint error (eslint.config.mjs: floating promises, non-exhaustive switches, hooks rules).
echo "drover: type-checking and linting (beside the tests; their output comes at the end)"
mkdir -p .test-output
typecheck_log=.test-output/typecheck.log
(npx tsc --noEmit -p . && npx tsc --noEmit -p web && npx eslint --max-warnings 0 .) >"$typecheck_log" 2>&1 &
typecheck=$!

# Built once for all test files: the web app (each browser test used to rebuild it, emptying
# web/dist under the others) and the compiled CLI (the e2e tests start hundreds of drover processes;
# bin/drover.js runs the build only while it is fresh).
bash scripts/setup.sh --build

echo "drover: running ${#files[@]} test files"
# Test files run as separate processes, a few at a time: most e2e tests wait on real processes.
# scripts/run-tests.mjs starts them in the order above (`node --test` would sort them by name).
# Each file's time goes to .test-output/file-timings.txt, longest first: where the suite's time goes.
# Each file's process also records its wall time and the CPU of the processes it started
# (scripts/test-file-usage.mjs), listed beside its tests' time.
# A folder of this run's own: another run in the same checkout does not mix in or remove its files.
export DROVER_TEST_USAGE_DIR="$(mktemp -d "$PWD/.test-output/usage-XXXXXX")"
status=0
node --import tsx --import ./scripts/test-file-usage.mjs scripts/run-tests.mjs \
  --concurrency "${DROVER_TEST_CONCURRENCY:-4}" --timings .test-output/file-timings.txt \
  "${files[@]}" || status=$?
rm -rf "$DROVER_TEST_USAGE_DIR"

if wait "$typecheck"; then
  echo "drover: type-check and lint passed"
else
  cat "$typecheck_log"
  echo "drover: type-check or lint FAILED (above)"
  status=1
fi
exit "$status"
