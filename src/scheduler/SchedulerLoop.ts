import type { Clock } from "../core/Clock.js";
import type { Scheduler } from "./Scheduler.js";
import type { QueueSpec, StageQueue } from "./StageQueue.js";

/**
 * Carries out the Scheduler's plans: queues items, asks for a plan whenever something may have
 * changed it (an item queued, a batch settled, a worker back, a queue's delay passed) and starts
 * each planned batch with its queue's run function. Its one timer wakes it when a waiting partial
 * batch becomes due and a worker slot is free for it.
 */
export class SchedulerLoop {
  private timer: unknown = undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;

  constructor(
    readonly scheduler: Scheduler,
    private readonly clock: Clock,
  ) {}

  addQueue<T>(spec: QueueSpec<T>): StageQueue<T> {
    return this.scheduler.addQueue(spec);
  }

  removeQueue(q: StageQueue<unknown>): void {
    this.scheduler.removeQueue(q);
  }

  /** Queues items unless that would put more than `maxQueueSize` in the queue (admission); false then, nothing queued. */
  offer<T>(q: StageQueue<T>, item: T, maxQueueSize: number): boolean {
    if (q.depth >= maxQueueSize) return false;
    this.enqueue(q, [item]);
    return true;
  }

  /** Queues admitted items together (an idle worker gets them as one batch, not the first alone). */
  enqueue<T>(q: StageQueue<T>, items: readonly T[]): void {
    if (items.length === 0) return;
    q.add(items, this.clock.now());
    this.kick();
  }

  /** Moves a waiting item behind every item not delayed (its level's queue timeout passed, action delay); false if it is not waiting. */
  delay<T>(q: StageQueue<T>, item: T): boolean {
    if (!q.delay(item, this.clock.now())) return false;
    this.kick();
    return true;
  }

  /** Takes a waiting item out of its queue; false if it is not waiting. */
  remove<T>(q: StageQueue<T>, item: T): boolean {
    return q.remove(item);
  }

  /** Starts what the scheduler plans now (also after a worker came back). */
  kick(): void {
    const now = this.clock.now();
    for (const b of this.scheduler.schedule(now)) {
      const done = () => {
        this.scheduler.finished(b, this.clock.now());
        this.kick();
      };
      b.queue.spec.run(b.items, b.worker).then(done, done);
    }
    this.arm(now);
  }

  private arm(now: number): void {
    const due = this.scheduler.nextDueMs(now);
    if (due === undefined || due >= this.timerAtMs) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timerAtMs = due;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      this.kick();
    }, due - now);
  }
}
