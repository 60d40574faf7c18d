import type { Logger } from "pino";
import { ServingError } from "../core/errors.js";

/** What the host needs of a loaded model version. */
export interface HostedModel {
  /** Refuses new work and resolves when every admitted request has been answered. */
  drain(): Promise<void>;
  /** Frees the model's resources (sessions); called once, after drain. */
  dispose(): Promise<void>;
}

/** Read access to the served model for request handlers. */
export interface ModelSource<M> {
  readonly current: M;
  /**
   * Runs fn with the current model and keeps that model alive until fn settles, so a request
   * that started on a version finishes on it even if a reload swaps versions meanwhile.
   */
  use<T>(fn: (m: M) => Promise<T>): Promise<T>;
}

export interface ReloadResult<M> {
  previous: M;
  current: M;
  loadMs: number;
}

export interface ModelHostOptions<M> {
  /** Builds (and warms up) the model in a folder; throws if it cannot be served. */
  load(dir: string): Promise<M>;
  /** Called synchronously at the swap, before the new model takes its first request. */
  onSwap?(next: M, previous: M): void;
  log: Logger;
  /** Milliseconds since some origin (injected for tests). */
  now?: () => number;
}

interface Leases {
  count: number;
  zero: (() => void)[];
}

/**
 * Holds the served model version and swaps it on reload without losing a request: the new
 * version is loaded and warmed beside the old one; only if that succeeds do new requests go
 * to it, while the old version finishes the requests it already has and is then disposed.
 * A failed load leaves the old version serving. Reloads run one at a time, in call order.
 */
export class ModelHost<M extends HostedModel> implements ModelSource<M> {
  private model: M;
  private readonly leases = new Map<M, Leases>();
  private readonly retiring = new Set<Promise<void>>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;

  constructor(
    initial: M,
    private readonly opts: ModelHostOptions<M>,
  ) {
    this.model = initial;
    this.now = opts.now ?? (() => performance.now());
  }

  get current(): M {
    return this.model;
  }

  async use<T>(fn: (m: M) => Promise<T>): Promise<T> {
    const m = this.model;
    const l = this.leasesOf(m);
    l.count++;
    try {
      return await fn(m);
    } finally {
      if (--l.count === 0)
        l.zero.splice(0).forEach((z) => {
          z();
        });
    }
  }

  /** Loads the model in `dir` and serves it; on failure the previous version keeps serving. */
  reload(dir: string): Promise<ReloadResult<M>> {
    const run = this.chain.then(() => this.swapTo(dir));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Shutdown, part 1: refuses new requests and reloads; resolves when every admitted request is answered. */
  async drain(): Promise<void> {
    this.closed = true;
    await this.chain;
    await Promise.all([this.model.drain(), ...this.retiring]);
  }

  /** Shutdown, part 2: frees the served version's resources. */
  async dispose(): Promise<void> {
    await this.model.dispose();
  }

  private async swapTo(dir: string): Promise<ReloadResult<M>> {
    if (this.closed) throw new ServingError("unavailable", "server is shutting down; no reload");
    const t0 = this.now();
    let next: M;
    try {
      next = await this.opts.load(dir);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ServingError("failed_precondition", `cannot load the model in ${dir}: ${reason}; the previous version keeps serving`);
    }
    if (this.closed) {
      await next.dispose();
      throw new ServingError("unavailable", "server is shutting down; the loaded model was discarded");
    }
    const previous = this.model;
    try {
      this.opts.onSwap?.(next, previous);
    } catch (err) {
      await next.dispose();
      throw new ServingError("failed_precondition", `cannot serve the model in ${dir}: ${(err as Error).message}; the previous version keeps serving`);
    }
    this.model = next;
    const loadMs = this.now() - t0;
    this.opts.log.info({ dir, loadMs: Math.round(loadMs) }, "model reloaded; the previous version finishes its requests");
    const retired = this.retire(previous);
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));
    return { previous, current: next, loadMs };
  }

  private async retire(m: M): Promise<void> {
    const l = this.leasesOf(m);
    if (l.count > 0) await new Promise<void>((resolve) => l.zero.push(resolve));
    this.leases.delete(m);
    try {
      await m.drain();
      await m.dispose();
    } catch (err) {
      this.opts.log.error({ err }, "retiring the previous model version failed");
    }
  }

  private leasesOf(m: M): Leases {
    let l = this.leases.get(m);
    if (!l) {
      l = { count: 0, zero: [] };
      this.leases.set(m, l);
    }
    return l;
  }
}
