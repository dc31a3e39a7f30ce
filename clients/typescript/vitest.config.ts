import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // Integration tests share one machine's ports and CPU: run files one at a time.
    fileParallelism: false,
  },
});
