import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { threadPolicy } from "../../src/engine/batchSchedulingPolicy.js";
import { StageWorker } from "../../src/engine/StageWorker.js";

const SCHED_OTHER = 0;
const SCHED_BATCH = 3;
const hasChrt = (() => {
  try {
    execFileSync("chrt", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

// engine worker threads under SCHED_BATCH (config engineWorkerBatchScheduling), read back from /proc
describe.runIf(process.platform === "linux")("engine worker scheduling policy", () => {
  const started: StageWorker[] = [];
  const start = async (batchScheduling: boolean) => {
    const w = await StageWorker.start({ intraOpThreads: 1, interOpThreads: 0, batchScheduling });
    started.push(w);
    return w;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((w) => w.stop()));
  });

  it.runIf(hasChrt)("puts the worker thread under SCHED_BATCH when asked, and leaves it normal otherwise", async () => {
    const batch = await start(true);
    const normal = await start(false);
    expect(batch.batchSchedulingFailed).toBeUndefined();
    expect(batch.tid).not.toBe(normal.tid);
    expect(threadPolicy(batch.tid!)).toBe(SCHED_BATCH);
    expect(threadPolicy(normal.tid!)).toBe(SCHED_OTHER);
    expect(threadPolicy(process.pid)).toBe(SCHED_OTHER); // the main thread keeps the normal policy
  });

  it("says why when chrt cannot run, and the worker runs under the normal policy", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent"; // the worker copies the environment when it starts
    try {
      const w = await start(true);
      expect(w.batchSchedulingFailed).toMatch(/^chrt --batch failed: .*ENOENT/);
      expect(threadPolicy(w.tid!)).toBe(SCHED_OTHER);
    } finally {
      process.env.PATH = path;
    }
  });
});
