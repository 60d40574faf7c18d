/**
 * Runs once before every test file: checks that the Debian packages of test/debian-packages.txt
 * are installed (failing with their names and the install command rather than letting a test
 * fail later with a bare "Command failed"), and gives the run a temporary folder of its own
 * (TMPDIR, inherited by the test workers and every process they start), removed at the end, so
 * that no run leaves files in /tmp.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const PACKAGES = "test/debian-packages.txt";
const PYTHON = "/usr/bin/python3";

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, cmd)));
}

/** The packages of the list whose check fails, with why. */
export function missingPackages(listFile = PACKAGES): { name: string; why: string }[] {
  const missing: { name: string; why: string }[] = [];
  const python: { name: string; module: string }[] = [];
  for (const line of readFileSync(listFile, "utf8").split("\n")) {
    const [name, check] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!name || !check) continue;
    const [kind, what] = [check.slice(0, check.indexOf(":")), check.slice(check.indexOf(":") + 1)];
    if (kind === "file" && !existsSync(what)) missing.push({ name, why: `no ${what}` });
    else if (kind === "command" && !onPath(what)) missing.push({ name, why: `no ${what} on the PATH` });
    else if (kind === "python") python.push({ name, module: what });
  }
  if (python.length) {
    const script = `import importlib.util\nfor m in ${JSON.stringify(python.map((p) => p.module))}:\n    print(m if importlib.util.find_spec(m) is None else "")`;
    const r = spawnSync(PYTHON, ["-c", script], { encoding: "utf8" });
    const absent = r.status === 0 ? new Set(r.stdout.split("\n").filter(Boolean)) : new Set(python.map((p) => p.module));
    for (const p of python) if (absent.has(p.module)) missing.push({ name: p.name, why: `${PYTHON} cannot import ${p.module}` });
  }
  return missing;
}

export default function setup(): () => void {
  const missing = missingPackages();
  if (missing.length) {
    const names = missing.map((m) => m.name).join(" ");
    throw new Error(
      `npm test needs Debian packages that are missing here:\n${missing.map((m) => `  ${m.name} (${m.why})`).join("\n")}\n` +
        `install them with: apt-get install ${names}   (the whole list: ${PACKAGES})`,
    );
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), "ranet-test-"));
  process.env.TMPDIR = tmp;
  return () => rmSync(tmp, { recursive: true, force: true });
}
