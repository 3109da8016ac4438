#!/usr/bin/env bash
# Build the dashboard reproducibly: the npm packages exactly as package-lock.json pins them, a type
# check, then esbuild (build.mjs) into src/tuyagate/gateway/dashboard/, which is committed and shipped.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
    echo "build.sh needs Node.js and npm (Debian: apt-get install -y nodejs npm)" >&2
    exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
npx --no-install tsc --noEmit
node build.mjs
