import { readdirSync, readFileSync } from "node:fs";

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

/** Cores the whole process and each of its threads (busiest first, "name/tid") used between two samples. */
export function coresUsed(
  before: ReturnType<typeof threadTimes>,
  after: ReturnType<typeof threadTimes>,
  seconds: number,
): { total: number; byThread: [string, number][] } {
  const byThread: [string, number][] = [];
  let total = 0;
  for (const [tid, t] of after) {
    const used = (t.seconds - (before.get(tid)?.seconds ?? 0)) / seconds;
    total += used;
    byThread.push([`${t.name}/${tid}`, used]);
  }
  return { total, byThread: byThread.sort((a, b) => b[1] - a[1]) };
}
