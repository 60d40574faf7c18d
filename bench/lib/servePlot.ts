import { renderVegaLite } from "./vegaPlot.js";

/** One served configuration at a FLOPs target: closed-loop throughput and p99 latency. */
export interface TargetPoint {
  /** FLOPs target as % of the last exit (100 = every request forced to the last exit). */
  targetPercent: number;
  imagesPerS: number;
  p99Ms: number;
}

/**
 * Throughput and p99 latency against the budget target (bench:serve), with the raw whole
 * network's throughput as a reference line: `<file>.svg` and `<file>.png`.
 */
export async function plotTargets(points: readonly TargetPoint[], rawWholePerS: number, subtitle: string, file: string): Promise<void> {
  const x = {
    field: "targetPercent",
    type: "quantitative" as const,
    title: "FLOPs target (% of the last exit's multiply-adds; 100 = forced last exit)",
    scale: { domain: [20, 100] },
  };
  const labelled = points.map((p) => ({ ...p, label: `${Math.round(p.imagesPerS).toLocaleString("en-US")}/s` }));
  await renderVegaLite(
    {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: { text: "Throughput and latency against the budget target", subtitle },
      vconcat: [
        {
          width: 640,
          height: 260,
          layer: [
            {
              data: { values: labelled },
              mark: { type: "line", point: { size: 60, filled: true } },
              encoding: { x, y: { field: "imagesPerS", type: "quantitative", title: "images per second (served)", scale: { zero: true, nice: true } } },
            },
            {
              data: { values: labelled },
              mark: { type: "text", dy: -12, fontSize: 11 },
              encoding: { x, y: { field: "imagesPerS", type: "quantitative" }, text: { field: "label" } },
            },
            {
              data: { values: [{ raw: rawWholePerS, label: `raw whole network, ${Math.round(rawWholePerS).toLocaleString("en-US")}/s` }] },
              layer: [
                { mark: { type: "rule", strokeDash: [6, 4], color: "#7f7f7f" }, encoding: { y: { field: "raw", type: "quantitative" } } },
                {
                  mark: { type: "text", align: "right", dy: -6, color: "#7f7f7f", fontSize: 11 },
                  encoding: { y: { field: "raw", type: "quantitative" }, x: { datum: 100 }, text: { field: "label" } },
                },
              ],
            },
          ],
        },
        {
          width: 640,
          height: 180,
          data: { values: points },
          mark: { type: "line", point: { size: 60, filled: true }, color: "#d62728" },
          encoding: { x, y: { field: "p99Ms", type: "quantitative", title: "p99 latency (ms, closed loop)", scale: { zero: true, nice: true } } },
        },
      ],
    },
    file,
  );
}
