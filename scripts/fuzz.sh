#!/usr/bin/env bash
# Fuzzes the hand-written parts that have a reference for a bounded time per
# target (FUZZTIME, default 20s): the HTTP fast path's server, answer parser
# and head parser against net/http, and SQLite's $N-to-? rewrite against
# SQLite. A divergence fails the run and leaves its input under the
# package's testdata/fuzz/, where `go test` replays it as a seed from then on.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-20s}"
targets=(
  "./internal/chassis/httpserver FuzzServerAgreesWithNetHTTP"
  "./internal/chassis/httpclient FuzzAnswerParserAgreesWithNetHTTP"
  "./internal/chassis/httpwire FuzzHeadParsingAgreesWithTextproto"
  "./internal/chassis/httpwire FuzzLengthAgreesWithStrconv"
  "./internal/chassis/store FuzzPositionalAgreesWithSQLite"
)
inputs() { { find "$1/testdata/fuzz/$2" -type f 2>/dev/null || true; } | wc -l; }
rc=0
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  log=$(mktemp)
  before=$(inputs "$pkg" "$name")
  start=$(date +%s)
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
    result=ok
  else
    after=$(inputs "$pkg" "$name")
    # Go 1.26's fuzzing coordinator can report its own deadline as a
    # failure when -fuzztime ends mid-run (golang/go#75804): no input was
    # written then, and nothing failed.
    if [ "$after" = "$before" ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
      result="ok (the coordinator's deadline, golang/go#75804)"
    else
      result=FAILED; rc=1; cat "$log"
    fi
  fi
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  printf '%-40s %-7s %8s inputs in %3ss  %s\n' "$name" "$pkg" "${execs:-0}" "$(( $(date +%s) - start ))" "$result" | sed 's|./internal/chassis/||'
  rm -f "$log"
done
exit $rc
