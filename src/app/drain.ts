import type { Logger } from "pino";
import type { Clock } from "../core/Clock.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { Listener } from "./listeners.js";

/** Longest wait for calls still open after a drain (streams a client keeps open), within the grace period. */
const CLOSE_WAIT_MS = 1000;

export interface DrainParts {
  listeners: Listener[];
  repo: ModelRepository;
  /** Closes what serves no calls (the metrics endpoint, telemetry, governors), after the listeners. */
  closeRest(): Promise<void>;
  /** Ends the engine (after every model is disposed). */
  disposeEngine(): Promise<void>;
  graceMs: number;
  clock: Clock;
  log: Logger;
}

/**
 * The drain, in order: NOT_SERVING, refuse new calls and answer the admitted ones within the
 * grace period, close the listeners (open calls get what is left of it, CLOSE_WAIT_MS at most),
 * then the models and the engine. Resolves true when every admitted request was answered.
 */
export async function drain(p: DrainParts): Promise<boolean> {
  const startedMs = p.clock.now();
  for (const l of p.listeners) l.health.set("NOT_SERVING");
  const inflight = () => p.repo.served().reduce((n, s) => n + s.pipeline.inflightCount, 0);
  p.log.info({ inflight: inflight(), graceMs: p.graceMs }, "draining");
  const drained = await Promise.race([p.repo.drain().then(() => true), new Promise<boolean>((r) => p.clock.setTimer(() => r(false), p.graceMs))]);
  if (!drained) p.log.warn({ inflight: inflight() }, "grace period over; cancelling remaining calls");
  for (const l of p.listeners) l.health.close();
  // calls still open get what is left of the grace period (at most CLOSE_WAIT_MS); stalled
  // metrics connections are cut at once
  const leftMs = drained ? Math.max(0, Math.min(CLOSE_WAIT_MS, p.graceMs - (p.clock.now() - startedMs))) : 0;
  await Promise.all([...p.listeners.map((l) => l.server.shutdown(leftMs)), p.closeRest()]);
  await p.repo.dispose();
  await p.disposeEngine();
  p.log.info({ drained, ms: Math.round(p.clock.now() - startedMs) }, "stopped");
  return drained;
}
