#!/bin/sh
# Usage: tests/smoke.sh http://127.0.0.1:PORT — fails unless /health answers "ok".
set -eu
base=${1:?usage: smoke.sh BASE_URL}
body=$(wget -q -O - "$base/health")
[ "$body" = ok ] || { echo "unexpected /health body: $body" >&2; exit 1; }
echo "healthy: $base"
