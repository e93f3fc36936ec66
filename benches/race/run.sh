#!/usr/bin/env bash
# The race, in one run on one machine: node-oidc-provider (race.mjs, pinned in package-lock.json)
# and oidc-edge (the `fanout` and `flows` benches), timed the same way, back to back.
#
#   benches/race/run.sh            fan-out (N = 1 and 100, RS256 and ES256) and flows (1 and 8 clients)
#   benches/race/run.sh fanout     the fan-out alone (or: flows)
#
# RACE_N, RACE_ALG, RACE_REPEAT, RACE_FLOWS and RACE_CLIENTS set both sides (see race.mjs).
# Each side's notices and request log go to stderr; the tables to stdout.
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-all}"
export RACE_N="${RACE_N:-1,100}" RACE_ALG="${RACE_ALG:-RS256,ES256}" RACE_REPEAT="${RACE_REPEAT:-5}"
export RACE_FLOWS="${RACE_FLOWS:-400}" RACE_CLIENTS="${RACE_CLIENTS:-1,8}"

npm ci --no-audit --no-fund --silent >&2
cargo bench -p oidc-edge-benches --bench fanout --bench flows --no-run >&2

# One half: node-oidc-provider's side (`race.mjs $1`), then oidc-edge's bench $1 once per alg,
# with the alg in the variable $2 and the settings after it.
half() {
  local bench="$1" alg_var="$2"
  shift 2
  echo
  node race.mjs "$bench"
  for alg in ${RACE_ALG//,/ }; do
    echo
    echo "oidc-edge, $alg:"
    env "$@" "$alg_var=$alg" cargo bench -q -p oidc-edge-benches --bench "$bench" 2>/dev/null
  done
}

echo "node-oidc-provider $(node -p 'require("./node_modules/oidc-provider/package.json").version') on Node.js $(node --version); oidc-edge $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'); $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores"
if [[ "$what" == all || "$what" == fanout ]]; then
  half fanout FANOUT_ALG FANOUT_RP=later FANOUT_N="$RACE_N" FANOUT_REPEAT="$RACE_REPEAT"
fi
if [[ "$what" == all || "$what" == flows ]]; then
  half flows FLOWS_ALG FLOWS_N="$RACE_FLOWS" FLOWS_CLIENTS="$RACE_CLIENTS"
fi
