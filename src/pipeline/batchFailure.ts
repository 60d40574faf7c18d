import { ServingError } from "../core/errors.js";
import { EngineWorkerStopped } from "../engine/StageRunner.js";

/**
 * The error every request of a failed batch gets: UNAVAILABLE when the engine worker running it
 * (or holding its kept tensors) stopped, which a retry can fix; else INTERNAL naming the step.
 */
export function batchFailure(what: string, step: string, err: unknown): ServingError {
  const message = err instanceof Error ? err.message : String(err);
  // the worker's own reason is in the server log (EnginePool and the batch's log line), not in the answer
  if (err instanceof EngineWorkerStopped)
    return new ServingError("unavailable", `${what}: the engine worker running it, or keeping its features, stopped; retry`);
  return new ServingError("internal", `${what} failed (${step}): ${message}`);
}
