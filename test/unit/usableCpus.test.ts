import { describe, expect, it } from "vitest";
import { autoEngineWorkers, usableCpus } from "../../src/core/usableCpus.js";

/** A fake cgroup tree: file path -> contents; missing files throw like the real reader. */
const fs = (files: Record<string, string>) => (file: string) => {
  const v = files[file];
  if (v === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
  return v;
};

describe("usableCpus", () => {
  it("reads a cgroup v2 quota and caps it by the cores", () => {
    expect(usableCpus("/cg", fs({ "/cg/cpu.max": "200000 100000\n" }), 64)).toEqual({ cpus: 2, source: "cgroup v2 cpu.max (200000 100000)" });
    expect(usableCpus("/cg", fs({ "/cg/cpu.max": "150000 100000" }), 64).cpus).toBe(1.5);
    expect(usableCpus("/cg", fs({ "/cg/cpu.max": "800000 100000" }), 4).cpus).toBe(4);
  });

  it("treats 'max' as no quota", () => {
    expect(usableCpus("/cg", fs({ "/cg/cpu.max": "max 100000" }), 16)).toEqual({ cpus: 16, source: "cpu count (cgroup v2 cpu.max is 'max 100000': no quota)" });
  });

  it("falls back to the cgroup v1 CFS quota, then to the core count", () => {
    const v1 = fs({ "/cg/cpu/cpu.cfs_quota_us": "300000", "/cg/cpu/cpu.cfs_period_us": "100000" });
    expect(usableCpus("/cg", v1, 32)).toEqual({ cpus: 3, source: "cgroup v1 cfs quota (300000/100000 us)" });
    const unlimited = fs({ "/cg/cpu/cpu.cfs_quota_us": "-1", "/cg/cpu/cpu.cfs_period_us": "100000" });
    expect(usableCpus("/cg", unlimited, 8)).toEqual({ cpus: 8, source: "cpu count (no cgroup CPU quota)" });
    expect(usableCpus("/cg", fs({}), 6).cpus).toBe(6);
  });

  it("gives one engine worker per usable CPU on CPU, one on a GPU", () => {
    expect(autoEngineWorkers("cpu", 2)).toBe(2);
    expect(autoEngineWorkers("cpu", 1.5)).toBe(1);
    expect(autoEngineWorkers("cpu", 0.5)).toBe(1);
    expect(autoEngineWorkers("cpu", 8)).toBe(8);
    expect(autoEngineWorkers("cuda", 64)).toBe(1);
  });
});
