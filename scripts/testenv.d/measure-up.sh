#!/usr/bin/env bash
# Times `scripts/testenv up` for BENCHMARKS.md (section testenv).
#
#   scripts/testenv.d/measure-up.sh warm   down (if up), then up with the binary cache as it is
#   scripts/testenv.d/measure-up.sh cold   down (if up), then up with an empty binary cache and an
#                                          empty Go build cache (the Go module cache stays as it is)
#
# It takes the environment of this checkout down first: run it where nobody else is using it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

mode=${1:-warm}
case "$mode" in
warm) ;;
cold)
    scratch=$(mktemp -d)
    export TODOPLAN_TESTENV_CACHE="$scratch/testenv-cache" GOCACHE="$scratch/go-build"
    ;;
*)
    echo "usage: $0 warm|cold" >&2
    exit 2
    ;;
esac

scripts/testenv down >/dev/null 2>&1 || true
started=$(date +%s)
scripts/testenv up
elapsed=$(($(date +%s) - started))
printf 'measure-up: %s up took %ds (%dm%02ds) on %s cores, load average at end: %s\n' \
    "$mode" "$elapsed" $((elapsed / 60)) $((elapsed % 60)) "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
