/**
 * `npm ci` on a newcomer's machine prints no warning: every installed package supports the Node
 * version package.json names (no EBADENGINE), no project config npm does not know (.npmrc), and
 * onnxruntime-node's install script (a CUDA download) is kept from running by allowScripts.
 */
import { existsSync, readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));

describe("package.json and the lockfile", () => {
  it("every locked package supports the lowest Node version package.json allows", () => {
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    const refusing = Object.entries(lock.packages as Record<string, { engines?: { node?: string } }>)
      .filter(([, p]) => p.engines?.node && !semver.satisfies(lowest, p.engines.node))
      .map(([name, p]) => `${name} (node ${p.engines!.node})`);
    expect(refusing).toEqual([]);
  });

  it("this machine's Node is one package.json allows (the version README, the Dockerfile and CI run)", () => {
    expect(semver.satisfies(process.versions.node, pkg.engines.node)).toBe(true);
    expect(readFileSync("Dockerfile", "utf8")).toMatch(new RegExp(`ARG NODE_IMAGE=node:${semver.minVersion(pkg.engines.node)!.major}-`));
  });

  it("keeps onnxruntime-node's CUDA download from running with allowScripts, with no .npmrc key npm does not know", () => {
    expect(pkg.allowScripts["onnxruntime-node"]).toBe(false);
    expect(existsSync(".npmrc") ? readFileSync(".npmrc", "utf8") : "").not.toMatch(/onnxruntime-node-install/);
    expect(semver.minVersion(pkg.engines.npm)!.version).toBe("11.16.0"); // the first npm that reads allowScripts
  });
});
