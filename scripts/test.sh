#!/usr/bin/env bash
# `npm test`: type check, lint, then both test tiers (unit, then interop against real peers).
# With CI_TEST_REPORT_JSON set, vitest also writes its JSON report there for .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
echo "-- tsc --noEmit"; npx tsc --noEmit -p . || fail=1
echo "-- eslint"; npx eslint . || fail=1
args=(run)
if [ -n "${CI_TEST_REPORT_JSON:-}" ]; then args+=(--reporter=default --reporter=json --outputFile.json="$CI_TEST_REPORT_JSON"); fi
npx vitest "${args[@]}" || fail=1
exit $fail
