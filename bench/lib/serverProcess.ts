import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

/** Runs `src/main.ts` in its own process (log level info: it waits for the "serving" line); resolves once serving. */
export async function startServerProcess(args: string[]): Promise<{ address: string; proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buf = "";
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === "serving") resolve(j.grpcPort);
          if (j.level >= 50) process.stderr.write(line + "\n");
        } catch {
          /* ignore */
        }
      }
    });
    proc.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  proc.stdout!.resume();
  return {
    address: `127.0.0.1:${port}`,
    proc,
    stop: async () => {
      proc.kill("SIGTERM");
      await once(proc, "exit");
    },
  };
}
