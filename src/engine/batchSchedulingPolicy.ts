import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";

/**
 * Puts thread `tid` (the caller's, from ownThreadId) under Linux's SCHED_BATCH scheduling policy
 * (util-linux `chrt`, which needs no privilege to move a thread there from the normal policy): the
 * same share of the CPU as before, but when another thread wakes it (a batch handed over), it does not preempt the waking
 * thread; it runs on an idle core, or when the scheduler's tick gives it one. Returns undefined
 * when done, else why not (not Linux, no chrt).
 */
export function useBatchSchedulingPolicy(tid: number | undefined): string | undefined {
  if (tid === undefined) return `no /proc/thread-self on ${process.platform} to name the thread to chrt`;
  try {
    execFileSync("chrt", ["--batch", "--pid", "0", String(tid)], { stdio: ["ignore", "ignore", "pipe"] });
    return undefined;
  } catch (err) {
    return `chrt --batch failed: ${((err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message).slice(0, 200)}`;
  }
}

/** The calling thread's id in the kernel (Linux's /proc/thread-self); undefined elsewhere. */
export function ownThreadId(): number | undefined {
  try {
    return Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return undefined;
  }
}

/** The scheduling policy of thread `tid` of this process, as /proc reports it (0 normal, 3 SCHED_BATCH, ...); undefined off Linux. */
export function threadPolicy(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    // fields after the command name, which may hold spaces, start at field 3; the policy is field 41
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[41 - 3]);
  } catch {
    return undefined;
  }
}
