import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // integration tests start servers on free ports; run files one at a time on 2-core machines
    fileParallelism: false,
  },
});
