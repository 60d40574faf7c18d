import { writeFileSync } from "node:fs";
import sharp from "sharp";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/**
 * Renders a Vega-Lite spec headless (no browser, no canvas: Vega's SVG renderer) to `<file>.svg`
 * and `<file>.png` (the SVG rasterised by sharp at 2x). Vega-Lite chooses round ticks and places
 * the legend outside the plot area.
 */
export async function renderVegaLite(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  await view.finalize();
  writeFileSync(`${file}.svg`, svg);
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(`${file}.png`);
}
