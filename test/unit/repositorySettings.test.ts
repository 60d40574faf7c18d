import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/ConfigError.js";
import { readRepositorySettings } from "../../src/model/repositoryFolders.js";

const repoWith = (yaml?: string) => {
  const root = mkdtempSync(path.join(os.tmpdir(), "repo-settings-"));
  if (yaml !== undefined) writeFileSync(path.join(root, "repository.yaml"), yaml);
  return root;
};

describe("repository.yaml", () => {
  it("names the bundled repository's default model: RANet, the model README's sample output shows", () => {
    expect(readRepositorySettings("models/repository")).toEqual({ defaultModel: "ranet-fmnist" });
  });

  it("is optional, and may be empty", () => {
    expect(readRepositorySettings(repoWith())).toEqual({});
    expect(readRepositorySettings(repoWith(""))).toEqual({});
  });

  it("refuses unknown keys and bad values naming the file and key", () => {
    const unknown = repoWith("defaultModle: a\n");
    expect(() => readRepositorySettings(unknown)).toThrow(ConfigError);
    expect(() => readRepositorySettings(unknown)).toThrow(/repository\.yaml: key 'defaultModle'.*may set defaultModel/);
    expect(() => readRepositorySettings(repoWith("defaultModel: 3\n"))).toThrow(/repository\.yaml: key 'defaultModel'/);
    expect(() => readRepositorySettings(repoWith("- a\n"))).toThrow(/repository\.yaml: expected a mapping/);
    expect(() => readRepositorySettings(repoWith("defaultModel: [\n"))).toThrow(/repository\.yaml/);
  });
});
