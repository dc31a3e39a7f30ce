import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The package: ESM and CJS with declarations; @microsoft/signalr stays a dependency.
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "es2020",
    outDir: "dist",
  },
  {
    // The hub's dashboard: one self-contained browser script, committed to src/Hub/wwwroot so `dotnet run` needs no npm.
    entry: { dashboard: "dashboard/main.ts" },
    format: ["iife"],
    platform: "browser",
    target: "es2020",
    minify: true,
    noExternal: [/.*/],
    // JSON only: the MessagePack protocol is left out of the page's script (dashboard/jsonOnly.ts says why).
    esbuildOptions(options) {
      options.alias = { "@microsoft/signalr-protocol-msgpack": "./dashboard/jsonOnly.ts" };
    },
    outDir: "../../src/Hub/wwwroot",
    outExtension: () => ({ js: ".js" }),
    clean: false,
    sourcemap: false,
    banner: { js: "/* SignalStream dashboard, built from clients/typescript/dashboard by `npm run build` (tsup). Do not edit. */" },
  },
]);
