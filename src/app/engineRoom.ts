import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { Clock } from "../core/Clock.js";
import { EventLoopLoad } from "../core/EventLoopLoad.js";
import { type UsableCpus, usableCpus } from "../core/usableCpus.js";
import { EnginePool } from "../engine/EnginePool.js";
import type { Metrics } from "../metrics/Metrics.js";
import { Scheduler } from "../scheduler/Scheduler.js";
import { SchedulerLoop } from "../scheduler/SchedulerLoop.js";

/** What every served model shares: the engine worker threads, the one scheduler of their slots, and the main thread's load. */
export interface EngineRoom {
  cpus: UsableCpus;
  pool: EnginePool;
  scheduler: SchedulerLoop;
  eventLoop: EventLoopLoad;
  /** Stops the load probe and ends the worker threads (after every model is disposed). */
  dispose(): Promise<void>;
}

/** Starts the engine worker threads (one pool for every model's sessions) and the scheduler of their slots. */
export async function startEngineRoom(config: Config, clock: Clock, metrics: Metrics, log: Logger): Promise<EngineRoom> {
  const cpus = usableCpus();
  log.info({ cpus: cpus.cpus, source: cpus.source }, "usable CPUs");
  const pool = await EnginePool.create(
    {
      executionProviders: config.executionProviders,
      intraOpThreads: config.intraOpThreads,
      interOpThreads: config.interOpThreads,
      workers: config.engineWorkers,
      batchScheduling: config.engineWorkerBatchScheduling,
      cpus,
    },
    log,
  );
  const scheduler = new SchedulerLoop(
    new Scheduler({ workers: pool.workerCount, workerAlive: (i) => pool.alive(i), slotsPerWorker: config.engineWorkerSlots }),
    clock,
  );
  pool.onWorkerBack = () => scheduler.kick();
  // the main thread's load, for the models whose lower priority levels yield to higher ones (priorityYieldUtilization)
  const eventLoop = new EventLoopLoad(clock);
  eventLoop.onWindow = (utilization) => metrics.eventLoopUtilization.set(utilization);
  return {
    cpus,
    pool,
    scheduler,
    eventLoop,
    dispose: async () => {
      eventLoop.stop();
      await pool.dispose();
    },
  };
}
