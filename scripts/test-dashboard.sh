#!/usr/bin/env bash
# The live dashboard in a real browser: Debian's Chromium driven by playwright-core loads '/' on a simulated run
# (the test starts the server itself), waits for live signals, candles, latency and the journal, and saves
# artifacts/dashboard.png (DASHBOARD_SCREENSHOT=docs/dashboard.png refreshes the README picture). Ends with 'N passed, N failed'; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/../clients/typescript/scripts/ci-common.sh"

ensure_node || { bad "node/npm install"; finish; exit 1; }
if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || { bad "chromium install"; finish; exit 1; }
fi
echo "$(/usr/bin/chromium --version 2>/dev/null | tail -1)"
ensure_npm_packages || { bad "npm install"; finish; exit 1; }
ensure_server_build || { bad "building the server"; finish; exit 1; }

run_vitest "dashboard in Chromium" test/browser
finish
