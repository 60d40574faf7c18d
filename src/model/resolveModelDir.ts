import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { echo, ServingError } from "../core/errors.js";

/**
 * The folder a reload may load: `requested` resolved against `root` (empty = `fallback`), which
 * must exist and lie inside `root` once symbolic links are followed, so an admin call cannot
 * point the server at arbitrary files. `field` names the request field in errors.
 */
export async function resolveModelDir(requested: string, root: string, fallback: string, field = "model_dir"): Promise<string> {
  const dir = requested ? path.resolve(root, requested) : path.resolve(fallback);
  const expected = `a model folder inside ${root}`;
  let real: string;
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(dir);
    if (!(await stat(real)).isDirectory()) throw new Error("not a folder");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ServingError("invalid_argument", `${field}: expected ${expected}, got ${echo(requested || fallback)} (${reason})`);
  }
  const rel = path.relative(realRoot, real);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    throw new ServingError("invalid_argument", `${field}: expected ${expected}, got ${echo(requested || fallback)} (resolves to ${echo(real)})`);
  }
  return real;
}
