import { constants } from "node:fs";
import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import { mapBounded } from "../resilience/limiter.js";

/**
 * The directories the shell tool runs programs from, searched in this order: the system's
 * own, never Steward's PATH (which may hold relative entries such as `.` or
 * `node_modules/.bin`, or directories anyone can write to). Also the child's PATH.
 */
export const PROGRAM_DIRECTORIES: readonly string[] = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

const SCAN_CONCURRENCY = 16;

/**
 * The programs the shell tool may run, found once when Steward starts: every executable
 * file in PROGRAM_DIRECTORIES, by name → absolute path (the first directory wins). A program
 * installed later, or planted in a directory that comes earlier, is not picked up until
 * Steward restarts.
 */
export class ProgramPaths {
  private constructor(
    private readonly byName: ReadonlyMap<string, string>,
    /** Every executable found, also those a directory earlier in the list shadows by name. */
    private readonly all: ReadonlySet<string>,
    readonly directories: readonly string[],
  ) {}

  /** Lists `directories` (missing ones are skipped) and keeps the executables. */
  static async scan(directories: readonly string[] = PROGRAM_DIRECTORIES): Promise<ProgramPaths> {
    const byName = new Map<string, string>();
    const all = new Set<string>();
    for (const directory of directories) {
      const names = await readdir(directory).catch(() => [] as string[]);
      const executable = await mapBounded(names, SCAN_CONCURRENCY, async (name) => {
        const path = join(directory, name);
        return access(path, constants.X_OK).then(
          () => path,
          () => undefined,
        );
      });
      names.forEach((name, i) => {
        const path = executable[i];
        if (path === undefined) return;
        all.add(path);
        if (!byName.has(name)) byName.set(name, path);
      });
    }
    return new ProgramPaths(byName, all, directories);
  }

  /** The fixed directories as a PATH, for the child (a program that runs another finds it there too). */
  get searchPath(): string {
    return this.directories.join(":");
  }

  /**
   * The absolute path of `program`: a bare name as found at start; an absolute path only if
   * it is one of those found. Anything else is an error naming the directories.
   */
  resolve(program: string): { ok: true; path: string } | { ok: false; reason: string } {
    const path = program.startsWith("/")
      ? this.all.has(program)
        ? program
        : undefined
      : program.includes("/")
        ? undefined
        : this.byName.get(program);
    if (path !== undefined) return { ok: true, path };
    return {
      ok: false,
      reason: `program ${JSON.stringify(program)} is not one of the programs found in ${this.directories.join(", ")} when Steward started`,
    };
  }
}
