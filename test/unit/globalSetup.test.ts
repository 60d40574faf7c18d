import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { missingPackages } from "../globalSetup.js";

describe("test prerequisites (test/debian-packages.txt)", () => {
  it("names each package whose file, command or Python module is missing, and only those", () => {
    const list = path.join(mkdtempSync(path.join(os.tmpdir(), "pkgs-")), "list.txt");
    writeFileSync(
      list,
      [
        "# comment",
        "present-file     file:/etc/hostname",
        "absent-file      file:/no/such/file",
        "present-command  command:sh",
        "absent-command   command:no-such-command-ranet",
        "present-module   python:json",
        "absent-module    python:no_such_module_ranet",
        "",
      ].join("\n"),
    );
    expect(missingPackages(list)).toEqual([
      { name: "absent-file", why: "no /no/such/file" },
      { name: "absent-command", why: "no no-such-command-ranet on the PATH" },
      { name: "absent-module", why: "/usr/bin/python3 cannot import no_such_module_ranet" },
    ]);
  });

  it("finds every package of the real list on this machine (else npm test stops before any test, naming them)", () => {
    expect(missingPackages()).toEqual([]);
  });

  it("gives the run its own temporary folder, removed at the end", () => {
    expect(path.basename(os.tmpdir())).toMatch(/^ranet-test-/);
  });
});
