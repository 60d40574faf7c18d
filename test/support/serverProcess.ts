import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

export interface SpawnedServer {
  proc: ChildProcess;
  /** Every JSON log line so far. */
  lines: any[];
  /** Resolves with the "serving" log line; rejects if the process exits first. */
  serving: Promise<{ grpcPort: number; adminPort?: number; metricsPort?: number; httpPort?: number; adminHttpPort?: number }>;
  stderr(): string;
  /** SIGTERM, then resolves with the exit code once the process has exited. */
  stop(): Promise<number | null>;
}

/** A server on loopback with every port free: gRPC, REST, admin (both) and metrics. */
export const LOOPBACK_FLAGS = [
  "--host",
  "127.0.0.1",
  "--port",
  "0",
  "--http-port",
  "0",
  "--admin-port",
  "0",
  "--admin-http-port",
  "0",
  "--metrics-host",
  "127.0.0.1",
  "--metrics-port",
  "0",
];

/** REST ports free unless the caller picks them (a later flag wins): two servers must not collide on 8080. */
const FREE_HTTP_PORTS = ["--http-port", "0", "--admin-http-port", "0"];

/**
 * What a spawned server runs: its TypeScript source under tsx (`npm run dev`; what the tests run,
 * nothing to build first), or the compiled build (`node dist/main.js`, as `npm start` and the
 * Docker image run it; benchmarks measure this one, see bench/lib/benchServer.ts).
 */
export type ServerEntry = "source" | "build";

const ENTRY_ARGS: Record<ServerEntry, string[]> = { source: ["--import", "tsx", "src/main.ts"], build: ["dist/main.js"] };

/** Runs the server (`entry`, from source by default) with `args` (admin listener on a free port by default) in its own process, collecting its JSON log lines. */
export function spawnServer(
  args: string[],
  o: { cwd?: string; adminFlag?: boolean; httpFlag?: boolean; env?: NodeJS.ProcessEnv; entry?: ServerEntry } = {},
): SpawnedServer {
  // the admin listener on a free port unless the caller picks one (two servers must not collide on 50052)
  const admin = o.adminFlag === false ? [] : ["--admin-port", "0"];
  const proc = spawn(process.execPath, [...ENTRY_ARGS[o.entry ?? "source"], ...(o.httpFlag === false ? [] : FREE_HTTP_PORTS), ...admin, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: o.cwd,
    env: o.env,
  });
  const lines: any[] = [];
  let buf = "";
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const serving = new Promise<{ grpcPort: number; adminPort?: number; metricsPort?: number; httpPort?: number; adminHttpPort?: number }>((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line);
          lines.push(j);
          if (j.msg === "serving") resolve(j);
        } catch {
          /* not a log line */
        }
      }
    });
    proc.once("exit", (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  serving.catch(() => {}); // awaited only by callers that expect the server to start
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill("SIGTERM");
    const [code] = await once(proc, "exit");
    return code as number | null;
  };
  return { proc, lines, serving, stderr: () => stderr, stop };
}

/** Starts a server process on a free loopback port (log level info: it waits for "serving"). */
export async function startServerProcess(
  args: string[],
  /** Another checkout to run the server from (its own src/), e.g. to compare with an older version that has no admin or REST listener. */
  from?: { cwd: string; adminFlag: boolean; httpFlag?: boolean },
  entry: ServerEntry = "source",
): Promise<{ address: string; adminAddress: string; httpAddress: string; metricsPort?: number; proc: ChildProcess; stop(): Promise<void> }> {
  const admin = from?.adminFlag === false ? [] : ["--admin-port", "0"];
  const s = spawnServer(["--host", "127.0.0.1", "--port", "0", ...admin, "--metrics-port", "0", ...args], { ...from, entry });
  s.proc.stderr!.pipe(process.stderr);
  const { grpcPort, adminPort, metricsPort, httpPort } = await s.serving;
  return {
    address: `127.0.0.1:${grpcPort}`,
    adminAddress: `127.0.0.1:${adminPort}`,
    httpAddress: `127.0.0.1:${httpPort}`,
    metricsPort,
    proc: s.proc,
    stop: async () => void (await s.stop()),
  };
}
