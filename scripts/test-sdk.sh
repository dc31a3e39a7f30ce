#!/usr/bin/env bash
# The TypeScript SDK (clients/typescript): type-check, ESM/CJS/.d.ts build, the committed dashboard bundle is fresh,
# unit tests (fakes, contract check against src/Contracts), and integration tests against a real server they start
# (live signals, filters, candles, a network cut and a server restart with no gap and no duplicate).
# Ends with 'N passed, N failed'; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/../clients/typescript/scripts/ci-common.sh"

ensure_node || { bad "node/npm install"; finish; exit 1; }
ensure_npm_packages || { bad "npm install"; finish; exit 1; }

say "type-check (tsc --noEmit)"
if (cd "$SDK" && npx tsc --noEmit 2>&1 | grep -v 'Unknown user config'; exit "${PIPESTATUS[0]}"); then ok "type-check"; else bad "type-check"; fi

say "build (tsup: ESM, CJS, .d.ts, dashboard bundle)"
bundle="$ROOT/src/Hub/wwwroot/dashboard.js"
committed=$(mktemp)
cp "$bundle" "$committed" 2>/dev/null || : >"$committed"
if (cd "$SDK" && npx tsup 2>&1 | grep -E 'error|Error|success' | grep -v 'Unknown user config'; exit "${PIPESTATUS[0]}") \
  && [ -f "$SDK/dist/index.js" ] && [ -f "$SDK/dist/index.cjs" ] && [ -f "$SDK/dist/index.d.ts" ] && [ -f "$SDK/dist/index.d.cts" ]; then
  ok "build"
else
  bad "build"
fi
if cmp -s "$committed" "$bundle"; then
  ok "the committed src/Hub/wwwroot/dashboard.js matches a fresh build"
else
  bad "src/Hub/wwwroot/dashboard.js is stale: run 'npm run build' in clients/typescript and commit it"
fi
rm -f "$committed"

say "the built package loads (ESM and CJS)"
if (cd "$SDK" && node --input-type=module -e 'const m = await import("./dist/index.js"); if (typeof m.connect !== "function") throw new Error("no connect in ESM");' \
  && node -e 'const m = require("./dist/index.cjs"); if (typeof m.connect !== "function") throw new Error("no connect in CJS");'); then
  ok "ESM and CJS entry points"
else
  bad "ESM and CJS entry points"
fi

run_vitest "unit tests" test/unit

if ensure_server_build; then
  run_vitest "integration tests (real server)" test/integration
else
  bad "building the server for the integration tests"
fi

finish
