import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 240_000, // integration waits carry their own, shorter, named timeouts
    hookTimeout: 120_000,
    // Integration tests share one machine's ports and CPU: run files one at a time.
    fileParallelism: false,
  },
});
