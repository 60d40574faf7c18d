import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // the Debian packages the tests need (fails naming any that is missing), and a temporary folder per run
    globalSetup: ["test/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // integration tests start servers on free ports; run files one at a time on 2-core machines
    fileParallelism: false,
  },
});
