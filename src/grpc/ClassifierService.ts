import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ModelSource } from "../model/ModelHost.js";
import type { Classifier } from "../pipeline/Classifier.js";
import { invalidArgument } from "../pipeline/errors.js";
import type { ClassifyResult, RequestOptions } from "../pipeline/Pipeline.js";
import type { CallObserver } from "./CallObserver.js";
import { wirePoint, wireThresholds } from "./BudgetService.js";
import { statusFor } from "./statusFor.js";
import { unaryHandler } from "./unaryHandler.js";

interface ClassifyOptionsMsg {
  flops_budget: number;
  exit: number;
  return_all_exits: boolean;
  top_k: number;
  anytime: boolean;
}

interface ClassifyRequestMsg {
  request_id: string;
  model: string;
  input?: "image" | "tensor";
  image?: Buffer;
  tensor?: { shape: number[]; data: Buffer; values: number[] };
  options?: ClassifyOptionsMsg | null;
}

const DEFAULT_TOP_K = 5;

/** ranet.v1.Classifier handlers. */
export class ClassifierService {
  constructor(
    private readonly models: ModelSource<ServedModel>,
    private readonly observe: CallObserver,
    private readonly log: Logger,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Classify: (call: grpc.ServerUnaryCall<ClassifyRequestMsg, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const done = this.observe("Classify");
        let cancel = () => {};
        call.on("cancelled", () => cancel());
        this.models.use((m) => this.classify(m.classifier, call.request, call.getDeadline(), (c) => (cancel = c))).then(
          (res) => {
            done(grpc.status.OK);
            cb(null, res);
          },
          (err) => {
            const s = statusFor(err);
            if (s.code === grpc.status.INTERNAL) this.log.error({ err }, "Classify failed");
            done(s.code);
            cb(s);
          },
        );
      },
      ClassifyStream: (call: grpc.ServerDuplexStream<ClassifyRequestMsg, unknown>) => {
        const pending = new Set<() => void>();
        let ended = false;
        const maybeEnd = () => {
          if (ended && pending.size === 0) call.end();
        };
        call.on("data", (req: ClassifyRequestMsg) => {
          const done = this.observe("ClassifyStream");
          let cancel = () => {};
          const entry = () => cancel();
          pending.add(entry);
          this.models
            .use((m) => this.classify(m.classifier, req, call.getDeadline(), (c) => (cancel = c)))
            .then(
              (res) => {
                done(grpc.status.OK);
                if (!call.cancelled) call.write(res);
              },
              (err) => {
                const s = statusFor(err);
                if (s.code === grpc.status.INTERNAL) this.log.error({ err }, "ClassifyStream item failed");
                done(s.code);
                if (!call.cancelled) call.write({ request_id: req.request_id, error: { code: s.code, message: s.details } });
              },
            )
            .finally(() => {
              pending.delete(entry);
              maybeEnd();
            });
        });
        call.on("end", () => {
          ended = true;
          maybeEnd();
        });
        call.on("cancelled", () => {
          for (const c of pending) c();
        });
      },
      GetModelMetadata: unaryHandler((req: { model: string }) => {
        const m = this.models.current;
        m.classifier.checkModel(req.model);
        return this.metadata(m);
      }),
    };
  }

  metadata(m: ServedModel): unknown {
    const c = m.classifier;
    const thresholds = wireThresholds(c.thresholds());
    return {
      name: c.name,
      version: c.version,
      labels: c.labels,
      input: {
        name: c.input.name,
        dtype: "float32",
        shape: c.input.shape,
        mean: c.input.mean,
        std: c.input.std,
        pixel_scale: c.input.pixelScale,
        color_space: c.input.colorSpace,
      },
      exits: c.manifest.exits.map((e, k) => ({
        exit: k + 1,
        flops: e.flops,
        val_accuracy: e.accuracy?.val ?? 0,
        test_accuracy: e.accuracy?.test ?? 0,
        threshold: thresholds[k],
      })),
      budget_table: m.budget.table.map(wirePoint),
    };
  }

  private async classify(c: Classifier, req: ClassifyRequestMsg, deadline: grpc.Deadline, onCancel: (c: () => void) => void): Promise<unknown> {
    c.checkModel(req.model);
    const o = req.options ?? undefined;
    const exits = c.exitFlops.length;
    if (o && o.exit > exits) throw invalidArgument("options.exit", `0 (adaptive) or an exit from 1 to ${exits}`, String(o.exit));
    const topK = o?.top_k ? o.top_k : DEFAULT_TOP_K;
    const input = await c.prepare({ image: req.input === "image" ? req.image : undefined, tensor: req.input === "tensor" ? req.tensor : undefined });
    const opts: RequestOptions = {
      flopsBudget: o?.flops_budget ? o.flops_budget : undefined,
      fixedExit: o?.exit ? o.exit - 1 : undefined,
      returnAllExits: o?.return_all_exits ?? false,
      anytime: o?.anytime ?? false,
      deadlineMs: c.deadlineFrom(deadline instanceof Date ? deadline : Number(deadline)),
    };
    const sub = c.submit(input, opts);
    onCancel(sub.cancel);
    return this.response(c, req.request_id, await sub.result, topK);
  }

  private response(c: Classifier, requestId: string, r: ClassifyResult, topK: number): unknown {
    const order = Array.from(r.probabilities.keys()).sort((a, b) => r.probabilities[b]! - r.probabilities[a]!);
    return {
      request_id: requestId,
      class_index: r.classIndex,
      label: c.labels[r.classIndex],
      confidence: r.confidence,
      exit: r.exit + 1,
      flops: r.flops,
      top_k: order.slice(0, Math.min(topK, order.length)).map((i) => ({ class_index: i, label: c.labels[i], probability: r.probabilities[i] })),
      model_name: c.name,
      model_version: c.version,
      exits: r.exits.map((p) => ({ exit: p.exit + 1, class_index: p.classIndex, label: c.labels[p.classIndex], confidence: p.confidence, flops: p.flops })),
      exit_reason: r.reason,
    };
  }
}
