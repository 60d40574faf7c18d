import { readFileSync } from "node:fs";
import os from "node:os";

/** The value after `--name` on the command line, or `def`. */
export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/**
 * Runs a bench's main; a failure prints its stack and exits 1. With --help (or -h) it prints the
 * script's leading doc comment (what it measures, its flags) instead of running anything.
 */
export function runMain(main: () => Promise<void>): void {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    const source = readFileSync(process.argv[1]!, "utf8");
    const doc = /^\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? "no usage notes in this script";
    console.log(
      doc
        .split("\n")
        .map((l) => l.replace(/^ \* ?/, ""))
        .join("\n")
        .trim(),
    );
    return;
  }
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

/** The machine a report was made on: CPUs and their model, and the Node version. */
export function machine(): string {
  return `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node}`;
}
