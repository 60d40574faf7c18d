import { readdirSync, readFileSync } from "node:fs";
import { type LoadOptions, type LoadResult, runLoad } from "../../test/support/loadgen.js";

/** CPU time (user + system, in seconds) of every thread of a process, by thread id, with its name. */
export function threadTimes(pid: number): Map<number, { name: string; seconds: number }> {
  const ticks = 100; // USER_HZ on Linux
  const out = new Map<number, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      out.set(Number(tid), { name, seconds: (Number(fields[11]) + Number(fields[12])) / ticks });
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

/**
 * Cores the whole process, its main thread (the thread whose id is the process id: the one that
 * reads and answers every call) and each of its threads (busiest first, "name/tid") used between
 * two samples.
 */
export function coresUsed(
  before: ReturnType<typeof threadTimes>,
  after: ReturnType<typeof threadTimes>,
  seconds: number,
  pid = -1,
): { total: number; main: number; byThread: [string, number][] } {
  const byThread: [string, number][] = [];
  let total = 0;
  let main = 0;
  for (const [tid, t] of after) {
    const used = (t.seconds - (before.get(tid)?.seconds ?? 0)) / seconds;
    total += used;
    if (tid === pid) main = used;
    byThread.push([`${t.name}/${tid}`, used]);
  }
  return { total, main, byThread: byThread.sort((a, b) => b[1] - a[1]) };
}

/**
 * runLoad against server process `pid`, with the CPU both sides used in the measuring window:
 * the server's cores (in total and per thread) and this process's (the load generator's).
 */
export async function loadWithCpu(pid: number, o: LoadOptions): Promise<{ result: LoadResult; server: ReturnType<typeof coresUsed>; loadgenCores: number }> {
  let before = threadTimes(pid);
  let usage0 = process.cpuUsage();
  let t0 = 0;
  let server: ReturnType<typeof coresUsed> = { total: 0, main: 0, byThread: [] };
  let loadgenCores = 0;
  const result = await runLoad({
    ...o,
    onWindow: (edge) => {
      if (edge === "start") {
        before = threadTimes(pid);
        usage0 = process.cpuUsage();
        t0 = performance.now();
      } else {
        const s = (performance.now() - t0) / 1000;
        server = coresUsed(before, threadTimes(pid), s, pid);
        const u = process.cpuUsage(usage0);
        loadgenCores = (u.user + u.system) / 1e6 / s;
      }
      o.onWindow?.(edge);
    },
  });
  return { result, server, loadgenCores };
}

/**
 * How long a thread ran and how long it was runnable but waiting for a core (Linux
 * /proc/PID/task/TID/schedstat, nanoseconds), in seconds.
 */
export function threadSchedule(pid: number, tid = pid): { runS: number; waitS: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
  return { runS: run! / 1e9, waitS: wait! / 1e9 };
}
