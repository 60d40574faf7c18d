import sharp from "sharp";

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  color: string;
  /** "line" (default) or "points" */
  style?: "line" | "points";
  dashed?: boolean;
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  yRange?: [number, number];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** A small line/scatter chart rendered to PNG (SVG rasterised by sharp). */
export async function plotPng(spec: PlotSpec, file: string): Promise<void> {
  const W = spec.width ?? 900;
  const H = spec.height ?? 520;
  const m = { l: 70, r: 20, t: 40, b: 60 };
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = spec.yRange ?? [Math.min(...ys), Math.max(...ys)];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const ticks = (a: number, b: number) => Array.from({ length: 6 }, (_, i) => a + ((b - a) * i) / 5);
  const fmt = (v: number) => (Math.abs(v) >= 1e5 ? `${(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${esc(spec.title)}</text>`,
    `<text x="${W / 2}" y="${H - 15}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text x="18" y="${H / 2}" text-anchor="middle" transform="rotate(-90 18 ${H / 2})">${esc(spec.yLabel)}</text>`,
  ];
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${H - m.b + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  spec.series.forEach((s, i) => {
    if (s.style === "points") {
      for (const p of s.points) parts.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="5" fill="${s.color}"/>`);
    } else if (s.points.length) {
      const d = s.points.map((p, j) => `${j ? "L" : "M"}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join("");
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    }
    const ly = m.t + 16 + i * 18;
    parts.push(`<rect x="${W - m.r - 250}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
    parts.push(`<text x="${W - m.r - 232}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push("</svg>");
  await sharp(Buffer.from(parts.join("")))
    .png()
    .toFile(file);
}
