#!/usr/bin/env bash
# The sign-in tests (tests/test_oidc*.py) start a real OpenID Provider: the npm package
# `oidc-provider` under node, from tests/oidc_provider (its package-lock.json pins every
# package with its integrity hash). Install it with `npm ci` when node_modules is missing or
# older than the lock; fail loudly when node or npm is missing. Never skip.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$HERE/tests/oidc_provider"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "FATAL: node and npm are needed for the OpenID Provider of the sign-in tests" \
    "(Debian: apt-get install nodejs npm; node 20.19 or later)." >&2
  exit 1
}
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
  echo "FATAL: node $(node --version) is too old for oidc-provider (20.19 or later)." >&2
  exit 1
}
STAMP="$DIR/node_modules/.package-lock.json"
if [ ! -f "$STAMP" ] || [ "$DIR/package-lock.json" -nt "$STAMP" ]; then
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "OpenID Provider for the sign-in tests: oidc-provider $(node -p "require('$DIR/node_modules/oidc-provider/package.json').version") under node $(node --version)"
