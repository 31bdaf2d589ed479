import type { Drift, FixRecord } from "../../api/desired-state.js";
import { html, type SafeHtml } from "../html.js";

/** What the chart draws, all times as ISO strings from the status. */
export interface DriftHistory {
  /** The simple fixes (status.fixes: the last 24 h, at most 100). */
  fixes: readonly FixRecord[];
  /** Remediations of this DesiredState: each is a drift that lasted from opening to closing. */
  remediations: readonly { name: string; openedAt?: string; closedAt?: string }[];
  /** Drift now (status.drift), lasting since its `since`. */
  drift: readonly Drift[];
  now: Date;
}

const HOURS = 24;
const WIDTH = 720;
const LEFT = 40;
const PLOT = WIDTH - LEFT - 10;
const BAR_TOP = 56;
const BAR_BOTTOM = 126;

export interface HourBucket {
  fixesSucceeded: number;
  fixesOther: number;
}

/** Simple fixes per hour over the last 24 h, oldest first; fixes outside the window are left out. */
export function fixesPerHour(fixes: readonly FixRecord[], now: Date): HourBucket[] {
  const buckets = Array.from({ length: HOURS }, () => ({ fixesSucceeded: 0, fixesOther: 0 }));
  const start = now.getTime() - HOURS * 3_600_000;
  for (const fix of fixes) {
    const index = Math.floor((Date.parse(fix.time) - start) / 3_600_000);
    const bucket = buckets[index];
    if (!bucket) continue;
    if (fix.result === "Succeeded") bucket.fixesSucceeded++;
    else bucket.fixesOther++;
  }
  return buckets;
}

/** The x of a time, clamped to the window; undefined for a time that does not parse. */
function xOf(time: string | undefined, now: Date): number | undefined {
  const at = Date.parse(time ?? "");
  if (Number.isNaN(at)) return undefined;
  const start = now.getTime() - HOURS * 3_600_000;
  const fraction = Math.min(1, Math.max(0, (at - start) / (HOURS * 3_600_000)));
  return Math.round(LEFT + fraction * PLOT);
}

function spans(history: DriftHistory): SafeHtml[] {
  const { now } = history;
  const band = (from: string | undefined, to: string | undefined, label: string, tone: string): SafeHtml => {
    const x1 = xOf(from, now);
    if (x1 === undefined) return html``;
    const x2 = xOf(to, now) ?? xOf(now.toISOString(), now) ?? x1;
    return html`<rect class="${tone}" x="${x1}" y="14" width="${Math.max(3, x2 - x1)}" height="22"
      ><title>${label}</title></rect
    >`;
  };
  return [
    ...history.remediations.map((r) => band(r.openedAt, r.closedAt, `remediation ${r.name}`, "span-remediation")),
    ...history.drift.map((d) => band(d.since, undefined, `${d.subject}: ${d.type} since ${d.since}`, "span-drift")),
    ...history.fixes.map((f) => {
      const x = xOf(f.time, now);
      return x === undefined
        ? html``
        : html`<rect class="tick-fix" x="${x - 1}" y="10" width="2" height="30"
            ><title>${f.action} ${f.subject}: ${f.result} at ${f.time}</title></rect
          >`;
    }),
  ];
}

function bars(buckets: readonly HourBucket[]): SafeHtml[] {
  const max = Math.max(1, ...buckets.map((b) => b.fixesSucceeded + b.fixesOther));
  const width = PLOT / HOURS;
  const height = (n: number): number => Math.round((n / max) * (BAR_BOTTOM - BAR_TOP));
  return buckets.map((b, i) => {
    const x = Math.round(LEFT + i * width + 1);
    const ok = height(b.fixesSucceeded);
    const other = height(b.fixesOther);
    const title = `${HOURS - i}h to ${HOURS - i - 1}h ago: ${b.fixesSucceeded} fixes succeeded, ${b.fixesOther} failed or interrupted`;
    return html`<g
      ><title>${title}</title
      ><rect class="bar-ok" x="${x}" y="${BAR_BOTTOM - ok}" width="${Math.floor(width - 2)}" height="${ok}"></rect
      ><rect
        class="bar-bad"
        x="${x}"
        y="${BAR_BOTTOM - ok - other}"
        width="${Math.floor(width - 2)}"
        height="${other}"
      ></rect
    ></g>`;
  });
}

/**
 * Drift and fixes over the last 24 h as an inline SVG (no script, no inline style: the
 * colours come from the stylesheet's classes). Top lane: how long each remediation's drift
 * lasted, the drift open now, and a tick per simple fix. Below: simple fixes per hour.
 */
export function driftChart(history: DriftHistory): SafeHtml {
  const buckets = fixesPerHour(history.fixes, history.now);
  const total = buckets.reduce((n, b) => n + b.fixesSucceeded + b.fixesOther, 0);
  const labels = [24, 18, 12, 6, 0].map((h) => {
    const x = Math.round(LEFT + ((HOURS - h) / HOURS) * PLOT);
    return html`<text x="${x}" y="142" text-anchor="middle">${h === 0 ? "now" : `-${h}h`}</text>`;
  });
  return html`<figure class="chart">
    <svg
      viewBox="0 0 ${WIDTH} 150"
      role="img"
      aria-label="drift and simple fixes over the last 24 hours"
      data-fixes="${total}"
    >
      <text x="0" y="30">drift</text>
      <text x="0" y="96">fixes</text>
      <line class="axis" x1="${LEFT}" y1="${BAR_BOTTOM}" x2="${LEFT + PLOT}" y2="${BAR_BOTTOM}"></line>
      ${spans(history)} ${bars(buckets)} ${labels}
    </svg>
    <figcaption>
      Last 24 h: ${total} simple fixes; ${history.remediations.length} remediations; drift open now:
      ${history.drift.length}.
    </figcaption>
  </figure>`;
}
