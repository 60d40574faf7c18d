import { execFile } from "node:child_process";
import { promisify } from "node:util";

/** How late an event loop ran its timers over a load, ms (the interval between its timer's runs less the interval set). */
export interface WakeDelay {
  p99Ms: number;
  maxMs: number;
}

/**
 * The resolution both measurements use: prom-client's default for the server's
 * nodejs_eventloop_lag_* series (eventLoopMonitoringPrecision).
 */
export const WAKE_RESOLUTION_MS = 10;

/**
 * A light thread's wake-up delay over a load: a process that does nothing but wake every
 * WAKE_RESOLUTION_MS (node's monitorEventLoopDelay) from `startAtMs` for `seconds`. What a thread
 * that sleeps between short jobs (an engine-core thread handing stage batches on) waits for a core
 * on this machine under that load, beside the server's main thread, which reads every request.
 */
export async function runWakeProbe(startAtMs: number, seconds: number): Promise<WakeDelay> {
  const script = `
    const { monitorEventLoopDelay } = require("node:perf_hooks");
    setTimeout(() => {
      const h = monitorEventLoopDelay({ resolution: ${WAKE_RESOLUTION_MS} });
      h.enable();
      setTimeout(() => {
        h.disable();
        console.log(JSON.stringify({ p99Ms: h.percentile(99) / 1e6 - ${WAKE_RESOLUTION_MS}, maxMs: h.max / 1e6 - ${WAKE_RESOLUTION_MS} }));
      }, ${seconds * 1000});
    }, Math.max(0, ${startAtMs} - Date.now()));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["-e", script]);
  return JSON.parse(stdout.trim()) as WakeDelay;
}

/**
 * The server's main-thread event-loop delay since the previous scrape, from its metrics text
 * (prom-client's nodejs_eventloop_lag_* series, which record its timer's intervals and restart at
 * every scrape).
 */
export function serverWakeDelay(metricsText: string): WakeDelay {
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metricsText)?.[1] ?? Number.NaN) * 1000 - WAKE_RESOLUTION_MS;
  return { p99Ms: value("nodejs_eventloop_lag_p99_seconds"), maxMs: value("nodejs_eventloop_lag_max_seconds") };
}
