import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { afterIo } from "../core/afterIo.js";
import type { CallContext } from "../core/CallContext.js";
import { Cancellation } from "../core/Cancellation.js";
import type { CallObserver } from "./CallObserver.js";
import { statusFor } from "./statusFor.js";
import { tenantOf } from "./tenantOf.js";
import { type ReadsUndecodable, UndecodableMessage } from "./tolerantDecoding.js";

export type { CallContext };

export interface StreamOptions<Res> {
  /**
   * Items of one stream being worked on at once. Past it the server stops reading the stream,
   * so HTTP/2 flow control slows a fast writer instead of its items being refused.
   */
  maxInflight: number;
  /** The answer for an item that failed (the stream goes on). */
  errorItem(requestId: string, status: { code: grpc.status; details: string }): Res;
}

/**
 * The one envelope every call kind shares: decoding failures answered as INVALID_ARGUMENT,
 * cancellation as an AbortSignal, the deadline as a number, errors turned into a status in
 * one place (statusFor), every INTERNAL logged with its cause, and, for the inference methods,
 * the call recorded in metrics.
 */
export class CallEnvelope {
  constructor(
    private readonly log: Logger,
    private readonly observe?: CallObserver,
    /** The metadata key that names a call's tenant (config tenantHeader). */
    private readonly tenantHeader = "x-tenant",
  ) {}

  /** A unary handler. `observed` records the call in the request metrics. */
  unary<Req, Res>(method: string, fn: (req: Req, ctx: CallContext) => Res | Promise<Res>, observed = false): grpc.handleUnaryCall<Req, Res> {
    return (call, cb) => {
      const done = observed ? this.observe?.(method) : undefined;
      const cancellation = new Cancellation();
      let answered = false;
      // grpc-js reports every call as cancelled once its status is sent: cancel only calls not answered yet
      call.on("cancelled", () => {
        if (!answered) cancellation.cancel();
      });
      const req = call.request as Req | UndecodableMessage;
      // an inference call starts after the engine's answers read in this turn (afterIo); other calls at once
      (observed ? afterIo() : Promise.resolve())
        .then(() => {
          if (req instanceof UndecodableMessage) throw req;
          return fn(req, { cancellation, deadlineMs: deadlineMsOf(call.getDeadline()), tenant: tenantOf(call, this.tenantHeader) });
        })
        .then(
          (res) => {
            answered = true;
            done?.(grpc.status.OK);
            cb(null, res);
          },
          (err) => {
            answered = true;
            const s = this.status(method, err);
            done?.(s.code);
            cb(s);
          },
        );
    };
  }

  /**
   * A bidi stream of independent items (ClassifyStream): each request is answered by one
   * response, in completion order; a failed item, undecodable ones included, is answered with
   * `errorItem` and the stream goes on. Reading pauses while maxInflight items are being worked
   * on or the client is not reading the answers, and resumes below that.
   */
  itemStream<Req extends { request_id?: string }, Res>(
    method: string,
    fn: (req: Req, ctx: CallContext) => Promise<Res>,
    opts: StreamOptions<Res>,
  ): grpc.handleBidiStreamingCall<Req, Res> & ReadsUndecodable {
    const handler = (call: grpc.ServerDuplexStream<Req, Res>) => {
      // one cancellation for the call: a cancelled stream withdraws every item still in the server
      const cancellation = new Cancellation();
      let inflight = 0;
      let ended = false;
      let seq = 0;
      const deadlineMs = deadlineMsOf(call.getDeadline());
      let tenant: string | Error;
      try {
        tenant = tenantOf(call, this.tenantHeader);
      } catch (err) {
        tenant = err as Error; // every item is answered with it
      }
      const flowing = () => inflight < opts.maxInflight && !call.writableNeedDrain;
      const settle = () => {
        if (call.isPaused() && flowing() && !call.cancelled) call.resume();
        if (ended && inflight === 0) call.end();
      };
      call.on("drain", settle);
      call.on("data", (raw: Req | UndecodableMessage) => {
        const n = seq++;
        const done = this.observe?.(method);
        inflight++;
        if (!flowing()) call.pause();
        const requestId = raw instanceof UndecodableMessage ? "" : String(raw.request_id ?? "");
        const work =
          raw instanceof UndecodableMessage
            ? Promise.reject(new StreamItemUndecodable(raw, n))
            : afterIo().then(() => {
                if (tenant instanceof Error) throw tenant;
                return fn(raw, { cancellation, deadlineMs, tenant });
              });
        work
          .then(
            (res) => {
              done?.(grpc.status.OK);
              if (!call.cancelled) call.write(res);
            },
            (err) => {
              const s = err instanceof StreamItemUndecodable ? err.status : this.status(method, err);
              done?.(s.code);
              if (!call.cancelled) call.write(opts.errorItem(requestId, s));
            },
          )
          .finally(() => {
            inflight--;
            settle();
          });
      });
      call.on("end", () => {
        ended = true;
        settle();
      });
      call.on("cancelled", () => cancellation.cancel());
      call.on("error", () => {}); // a write after the client went away: nothing left to answer
    };
    return Object.assign(handler, { readsUndecodable: true as const });
  }

  /** statusFor, logging every INTERNAL with its cause (the client only sees "see server log"). */
  private status(method: string, err: unknown): { code: grpc.status; details: string } {
    if (err instanceof UndecodableMessage) return err.status;
    const s = statusFor(err);
    if (s.code === grpc.status.INTERNAL) this.log.error({ method, err }, `${method} failed`);
    return s;
  }
}

/** An undecodable item of a stream, named by its position so the client can tell which. */
class StreamItemUndecodable extends Error {
  constructor(
    readonly item: UndecodableMessage,
    readonly index: number,
  ) {
    super(item.message);
  }

  get status(): { code: grpc.status; details: string } {
    return { code: grpc.status.INVALID_ARGUMENT, details: `stream message ${this.index}: ${this.item.message}` };
  }
}

/** A grpc-js deadline as epoch milliseconds (Infinity = none). */
export function deadlineMsOf(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : Number(deadline);
}
