/**
 * A call's cancellation: the server's own, lighter than an AbortController (whose EventTarget
 * listeners, added and removed once per request, cost about 1-2% of the main thread). Handlers run
 * once, at cancel(); one added after it runs at once.
 */
export class Cancellation {
  private handlers: Set<() => void> | undefined;
  private done = false;

  get cancelled(): boolean {
    return this.done;
  }

  /** Runs `fn` when the call is cancelled; returns what takes it off again. */
  onCancel(fn: () => void): () => void {
    if (this.done) {
      fn();
      return () => {};
    }
    this.handlers ??= new Set();
    this.handlers.add(fn);
    return () => this.handlers?.delete(fn);
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    const handlers = this.handlers;
    this.handlers = undefined;
    for (const fn of handlers ?? []) fn();
  }
}
