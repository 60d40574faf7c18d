import type * as grpc from "@grpc/grpc-js";
import { echo } from "../core/errors.js";

export type ServingStatus = "SERVING" | "NOT_SERVING";

/** Health service names of models: "model/<name>". */
const MODEL_PREFIX = "model/";

/**
 * grpc.health.v1.Health: one status for the whole server ("") and each named service, and with
 * `modelReady`, per model: service "model/<name>" is SERVING while the server serves and that
 * model has a READY version.
 */
export class HealthService {
  private status: ServingStatus = "NOT_SERVING";
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<{ service: string }, unknown> }>();

  constructor(
    private readonly services: readonly string[],
    private readonly modelReady?: (name: string) => boolean,
  ) {}

  get current(): ServingStatus {
    return this.status;
  }

  set(status: ServingStatus): void {
    this.status = status;
    for (const w of this.watchers) w.call.write({ status: this.statusOf(w.service) });
  }

  private statusOf(service: string): string {
    if (service === "" || this.services.includes(service)) return this.status;
    if (this.modelReady && service.startsWith(MODEL_PREFIX)) return this.modelReady(service.slice(MODEL_PREFIX.length)) ? this.status : "NOT_SERVING";
    return "SERVICE_UNKNOWN";
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const s = this.statusOf(call.request.service);
        if (s === "SERVICE_UNKNOWN") cb({ code: 5, details: `unknown service ${echo(call.request.service)}` });
        else cb(null, { status: s });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
        const w = { service: call.request.service, call };
        this.watchers.add(w);
        call.write({ status: this.statusOf(w.service) });
        call.on("cancelled", () => this.watchers.delete(w));
        call.on("close", () => this.watchers.delete(w));
      },
    };
  }

  /** Ends open Watch streams (at shutdown). */
  close(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }
}
