import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** How many CPUs this process may use, and where that number came from (logged at start). */
export interface UsableCpus {
  cpus: number;
  source: string;
}

type Read = (file: string) => string;

const readText: Read = (file) => readFileSync(file, "utf8");

/**
 * The CPUs the process may really use: a container's CPU quota (cgroup v2 `cpu.max`, else
 * cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), capped by the cores it may run on, else
 * those cores (availableParallelism: the affinity mask / cpuset). In a pod with a CPU limit of
 * 2 on a 64-core node this is 2, not 64. `root` and `read` are for tests.
 */
export function usableCpus(root = "/sys/fs/cgroup", read: Read = readText, cores = availableParallelism()): UsableCpus {
  const tryRead = (file: string) => {
    try {
      return read(`${root}/${file}`).trim();
    } catch {
      return undefined;
    }
  };
  const v2 = tryRead("cpu.max");
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/);
    const q = Number(quota);
    const p = Number(period ?? 100000);
    if (quota !== "max" && q > 0 && p > 0) return { cpus: Math.min(cores, q / p), source: `cgroup v2 cpu.max (${v2})` };
    return { cpus: cores, source: `cpu count (cgroup v2 cpu.max is '${v2}': no quota)` };
  }
  const q1 = tryRead("cpu/cpu.cfs_quota_us") ?? tryRead("cpu,cpuacct/cpu.cfs_quota_us");
  const p1 = tryRead("cpu/cpu.cfs_period_us") ?? tryRead("cpu,cpuacct/cpu.cfs_period_us");
  if (q1 !== undefined && p1 !== undefined && Number(q1) > 0 && Number(p1) > 0) {
    return { cpus: Math.min(cores, Number(q1) / Number(p1)), source: `cgroup v1 cfs quota (${q1}/${p1} us)` };
  }
  return { cpus: cores, source: "cpu count (no cgroup CPU quota)" };
}

/**
 * Engine workers when the config leaves it automatic (0): on CPU one per usable CPU (at least
 * 1), on a GPU 1. Measured on 2 cores (docs/performance.md): 2 workers served 1.44x the
 * forced-last-exit and 1.14x the adaptive (50% target) throughput of 1 worker (cores less one,
 * the earlier default); the main thread's gRPC and batching work fits beside them.
 */
export function autoEngineWorkers(provider: string, cpus: number): number {
  return provider === "cpu" ? Math.max(1, Math.floor(cpus)) : 1;
}
