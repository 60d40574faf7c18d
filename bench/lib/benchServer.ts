import { execFileSync } from "node:child_process";
import path from "node:path";
import { type ServerEntry, type SpawnedServer, spawnServer, startServerProcess } from "../../test/support/serverProcess.js";

/** `--server-from-source` on the bench's command line (every bench takes it). */
const fromSource = process.argv.includes("--server-from-source");

/** Checkouts built by this bench process. */
const built = new Set<string>();

/**
 * Compiles the checkout at `cwd` (`npm run build`: tsc into dist/) once per bench run, so the
 * server measured is the code as it stands, compiled as the Docker image and `npm start` run it.
 */
export function buildServer(cwd = process.cwd()): void {
  const dir = path.resolve(cwd);
  if (built.has(dir)) return;
  console.error(`building the server in ${dir} (npm run build) ...`);
  execFileSync("npm", ["run", "--silent", "build"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
  built.add(dir);
}

/**
 * startServerProcess for a benchmark: the compiled build (`node dist/main.js`), not the source
 * under tsx. tsx enables source maps and runs esbuild's output with its name-keeping helpers;
 * on the 2-core machine the same server from source spent 1.1-1.2x the main-thread CPU per
 * streamed forced-last answer and 1.02-1.05x per adaptive one (alternating `bench:serve --only` runs).
 */
export function startBenchServer(args: string[], from?: { cwd: string; adminFlag: boolean; httpFlag?: boolean }): ReturnType<typeof startServerProcess> {
  return startServerProcess(args, from, benchEntry(from?.cwd));
}

/** spawnServer for a benchmark: the compiled build, as startBenchServer. */
export function spawnBenchServer(args: string[]): SpawnedServer {
  return spawnServer(args, { entry: benchEntry() });
}

/** The build (compiled first), or the source under tsx where the bench's command line says `--server-from-source` (every bench takes it). */
function benchEntry(cwd?: string): ServerEntry {
  if (fromSource) return "source";
  buildServer(cwd);
  return "build";
}

/** How the benchmarked servers ran, for a report's header. */
export function serverEntryNote(): string {
  return fromSource ? "the TypeScript source under tsx (--server-from-source)" : "the compiled build, node dist/main.js";
}
