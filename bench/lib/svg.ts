/**
 * A small line chart as SVG text, written by hand so the bench needs no plotting library.
 * Pure (test/bench/svg.test.ts).
 */

export interface Series {
  name: string;
  /** One value per category; undefined or NaN leaves a gap. */
  values: readonly (number | undefined)[];
  color: string;
  dashed?: boolean;
}

export interface Chart {
  title: string;
  yLabel: string;
  categories: readonly string[];
  series: readonly Series[];
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 48, right: 200, bottom: 64, left: 72 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round upper bound for the y axis and its tick step (1, 2 or 5 × 10^n). */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  return { top: Math.ceil(max / step) * step, step };
}

export function renderChart(chart: Chart): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const finite = chart.series.flatMap((s) =>
    s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)),
  );
  const { top, step } = niceScale(Math.max(0, ...finite));
  const n = chart.categories.length;
  const xOf = (i: number): number => MARGIN.left + (n <= 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const yOf = (v: number): number => MARGIN.top + plotH - (v / top) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = yOf(v).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#ddd"/>`);
    out.push(
      `<text x="${MARGIN.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${Number(v.toPrecision(6))}</text>`,
    );
  }
  chart.categories.forEach((c, i) =>
    out.push(
      `<text x="${xOf(i).toFixed(1)}" y="${MARGIN.top + plotH + 20}" text-anchor="middle">${escapeXml(c)}</text>`,
    ),
  );
  out.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
  );
  out.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
  );
  out.push(
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, k) => {
    const points = s.values.map((v, i) =>
      v !== undefined && Number.isFinite(v) ? `${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}` : undefined,
    );
    for (const segment of segments(points)) {
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
      out.push(`<polyline points="${segment.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    }
    for (const p of points) {
      if (!p) continue;
      const [px, py] = p.split(",");
      out.push(`<circle cx="${px}" cy="${py}" r="3.5" fill="${s.color}"/>`);
    }
    const ly = MARGIN.top + 10 + k * 20;
    const lx = MARGIN.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** Runs of consecutive defined points. */
function segments(points: readonly (string | undefined)[]): string[][] {
  const runs: string[][] = [];
  let current: string[] = [];
  for (const p of points) {
    if (p) current.push(p);
    else if (current.length > 0) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/** Several charts stacked in one SVG, one under the other. */
export function renderPanels(charts: readonly Chart[]): string {
  const inner = charts.map((chart, i) => renderChart(chart).replace("<svg ", `<svg y="${i * HEIGHT}" `));
  const height = HEIGHT * charts.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">\n${inner.join("")}</svg>\n`;
}
