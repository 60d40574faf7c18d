import type { ExitScoring } from "../budget/createBudget.js";
import type { DataType } from "../generated/inference/DataType.js";
import type { ModelConfig } from "../generated/inference/ModelConfig.js";
import type { ModelStatistics } from "../generated/inference/ModelStatistics.js";
import type { Classifier } from "../pipeline/Classifier.js";
import type { Duration, StatisticsSnapshot } from "../pipeline/InferenceStatistics.js";
import { bytesInputName } from "./inputs.js";
import { OUTPUTS, type OutputName, PER_EXIT_OUTPUTS } from "./outputs.js";

/** Server settings a model configuration reports. */
export interface BatchingSettings {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
  /** Per priority level (the levels and queue timeouts come from the classifier). */
  priorityMaxQueueSize: readonly number[];
}

const TYPE: Record<(typeof OUTPUTS)[OutputName], DataType> = { FP32: "TYPE_FP32", INT64: "TYPE_INT64", INT32: "TYPE_INT32", BYTES: "TYPE_STRING" };

/**
 * Triton's ModelConfig for the served model: dims without the batch dimension (max_batch_size
 * > 0), the same tensors ModelMetadata lists; dynamic batching as configured; one instance per
 * engine worker; the preprocessing, labels, exits, exit scoring rule and per-exit accuracy
 * under it as parameters.
 */
export function modelConfig(c: Classifier, provider: string, workers: number, b: BatchingSettings, scoring: ExitScoring): ModelConfig {
  const p = c.priorities;
  const [ch, h, w] = c.input.shape;
  const param = (v: unknown) => ({ string_value: Array.isArray(v) ? v.join(",") : String(v) });
  return {
    name: c.name,
    platform: "onnxruntime_staged",
    backend: "ranet-serving",
    max_batch_size: b.maxBatchSize,
    input: [
      { name: c.input.name, data_type: "TYPE_FP32", format: "FORMAT_NCHW", dims: [ch, h, w] },
      { name: bytesInputName(c.input.name), data_type: "TYPE_STRING", format: "FORMAT_NONE", dims: [], optional: true },
    ],
    output: (Object.keys(OUTPUTS) as OutputName[]).map((name) => ({
      name,
      data_type: TYPE[OUTPUTS[name]],
      dims: name === "probabilities" ? [c.labels.length] : PER_EXIT_OUTPUTS.includes(name) ? [c.exitFlops.length] : [],
    })),
    dynamic_batching: {
      preferred_batch_size: [b.maxBatchSize],
      max_queue_delay_microseconds: Math.round(b.maxQueueDelayMs * 1000),
      default_queue_policy: { max_queue_size: b.maxQueueSize },
      priority_levels: p.levels,
      default_priority_level: p.levels > 0 ? p.defaultLevel : 0,
      priority_queue_policy: Object.fromEntries(
        Array.from({ length: p.levels }, (_, i) => [
          String(i + 1),
          {
            max_queue_size: b.priorityMaxQueueSize[i] ?? b.maxQueueSize,
            default_timeout_microseconds: (p.timeoutMs?.[i] ?? 0) * 1000,
            timeout_action: p.timeoutAction?.[i] === "delay" ? "DELAY" : "REJECT",
            allow_timeout_override: p.allowTimeoutOverride ?? false,
          },
        ]),
      ),
    },
    instance_group: [{ name: `${c.name}_0`, kind: provider === "cuda" ? "KIND_GPU" : "KIND_CPU", count: workers }],
    parameters: {
      // FP32 input = (pixel * pixel_scale - mean[c]) / std[c]; UINT8 pixels are normalised by the server
      input_mean: param(c.input.mean),
      input_std: param(c.input.std),
      input_pixel_scale: param(c.input.pixelScale),
      input_color_space: param(c.input.colorSpace),
      input_uint8_layouts: param(["NCHW", "NHWC", ...(ch === 1 ? ["NHW"] : [])]),
      labels: param(c.labels),
      exit_flops: param(c.exitFlops),
      // what `confidence` and a forced exit's answer are: see ranet.v1 ModelMetadata.score_rule
      exit_score_rule: param(scoring.rule),
      // top-1 accuracy of the answers at each exit under that rule (as a forced exit answers)
      ...(scoring.valAccuracy ? { exit_accuracy_val: param(scoring.valAccuracy.map((a) => a.toFixed(4))) } : {}),
      ...(scoring.testAccuracy ? { exit_accuracy_test: param(scoring.testAccuracy.map((a) => a.toFixed(4))) } : {}),
    },
  };
}

/** Triton's ModelStatistics of one version. */
export function modelStatistics(name: string, version: string, s: StatisticsSnapshot): ModelStatistics {
  const d = (x: Duration) => ({ count: x.count, ns: x.ns });
  const none = { count: 0, ns: 0 };
  return {
    name,
    version,
    last_inference: s.lastInferenceMs,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: d(s.success),
      fail: d(s.fail),
      queue: d(s.queue),
      compute_input: none,
      compute_infer: d(s.computeInfer),
      compute_output: none,
      cache_hit: none,
      cache_miss: none,
    },
    batch_stats: [...s.batches].map(([size, x]) => ({ batch_size: size, compute_input: none, compute_infer: d(x), compute_output: none })),
  };
}
