import { execFile, execFileSync } from "node:child_process";

export interface CommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Standard input, if any. */
  input?: string;
}

/** The error of a command that failed: the command line, its exit status and the end of its stderr (and stdout when stderr is empty). */
function failure(cmd: string, args: readonly string[], status: string, stderr: string, stdout: string): Error {
  const said = (stderr.trim() || stdout.trim()).slice(-4000);
  return new Error(`\`${[cmd, ...args].join(" ")}\` ${status}${said ? `:\n${said}` : " and printed nothing"}`);
}

/** Runs a command to completion; resolves with its stdout, or rejects naming the command, its exit status and its stderr. */
export function runCommand(cmd: string, args: readonly string[], o: CommandOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: o.cwd, env: o.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) resolve(stdout);
      else {
        const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: string };
        const status = typeof e.code === "number" ? `exited ${e.code}` : e.signal ? `was killed by ${e.signal}` : `could not run (${e.message})`;
        reject(failure(cmd, args, status, stderr, stdout));
      }
    });
    if (o.input !== undefined) child.stdin?.end(o.input);
  });
}

/** runCommand, blocking (only where no server runs in this process). */
export function runCommandSync(cmd: string, args: readonly string[], o: CommandOptions = {}): string {
  try {
    return execFileSync(cmd, args, { cwd: o.cwd, env: o.env, input: o.input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { status?: number | null; signal?: string | null; stderr?: string; stdout?: string; message: string };
    const status = typeof e.status === "number" ? `exited ${e.status}` : e.signal ? `was killed by ${e.signal}` : `could not run (${e.message})`;
    throw failure(cmd, args, status, e.stderr ?? "", e.stdout ?? "");
  }
}

/** A command's exit status, stdout and stderr, whatever the status (for tests that expect a failure). */
export function runCommandStatus(
  cmd: string,
  args: readonly string[],
  o: CommandOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: o.cwd, env: o.env, encoding: "utf8" }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, stdout, stderr });
    });
    if (o.input !== undefined) child.stdin?.end(o.input);
  });
}
