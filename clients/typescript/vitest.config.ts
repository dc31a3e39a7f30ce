import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 240_000, // integration waits carry their own, shorter, named timeouts
    hookTimeout: 300_000, // beforeAll starts a server and may wait 120 s for its first signal, failing with a reason
    // Integration tests share one machine's ports and CPU: run files one at a time.
    fileParallelism: false,
  },
});
