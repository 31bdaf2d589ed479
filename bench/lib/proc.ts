import { readFile } from "node:fs/promises";

/** What /proc says of one process at one moment. */
export interface ProcessSample {
  /** user + system CPU time since the process started. */
  cpuSeconds: number;
  rssMB: number;
  /** VmHWM: the peak resident set size so far. */
  peakRssMB: number;
  at: number;
}

/** Linux's USER_HZ; 100 on every architecture Node supports (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;

export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, "utf8"),
    readFile(`/proc/${pid}/status`, "utf8"),
  ]);
  return { ...parseStat(stat), ...parseStatus(status), at: Date.now() };
}

/** utime and stime are fields 14 and 15; the command name (field 2) may contain spaces and parentheses. */
export function parseStat(stat: string): { cpuSeconds: number } {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

export function parseStatus(status: string): { rssMB: number; peakRssMB: number } {
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMB: kb("VmRSS") / 1024, peakRssMB: kb("VmHWM") / 1024 };
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(from: ProcessSample, to: ProcessSample): number {
  const wall = (to.at - from.at) / 1000;
  return wall > 0 ? ((to.cpuSeconds - from.cpuSeconds) / wall) * 100 : Number.NaN;
}
