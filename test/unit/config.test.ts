import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type Config, ConfigError, helpText, loadConfig } from "../../src/config/config.js";

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env) as Config;

describe("config", () => {
  it("serves REST by default on 8080 and the admin REST port on 8082 (loopback), each its own port", () => {
    const c = loadConfig([], {}) as Config;
    expect({ httpEnabled: c.httpEnabled, httpPort: c.httpPort, adminHttpPort: c.adminHttpPort, adminHost: c.adminHost }).toEqual({
      httpEnabled: true,
      httpPort: 8080,
      adminHttpPort: 8082,
      adminHost: "127.0.0.1",
    });
    expect(new Set([c.port, c.httpPort, c.adminPort, c.adminHttpPort, c.metricsPort]).size).toBe(5);
  });

  it("holds two batches per engine worker by default; engineWorkerSlots takes 1 to 8", () => {
    expect((loadConfig([], {}) as Config).engineWorkerSlots).toBe(2);
    expect((loadConfig(["--engine-worker-slots", "1"], {}) as Config).engineWorkerSlots).toBe(1);
    expect(() => loadConfig(["--engine-worker-slots", "0"], {})).toThrow(/engineWorkerSlots/);
  });

  it("decides exits in the engine where the controller's spending allows it by default (auto); true and false force either way", () => {
    expect(load([]).exitDecisionsInEngine).toBe("auto");
    expect(load(["--exit-decisions-in-engine", "true"]).exitDecisionsInEngine).toBe(true);
    expect(load([], { RANET_EXIT_DECISIONS_IN_ENGINE: "false" }).exitDecisionsInEngine).toBe(false);
    expect(load([], { RANET_EXIT_DECISIONS_IN_ENGINE: "auto" }).exitDecisionsInEngine).toBe("auto");
    expect(() => loadConfig(["--exit-decisions-in-engine", "sometimes"], {})).toThrow(/exitDecisionsInEngine/);
  });

  it("has sensible defaults and is frozen", () => {
    const c = load([]);
    expect(c.port).toBe(50051);
    expect(c.executionProviders).toEqual(["cpu"]);
    expect(c.thresholds).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("layers yaml < env < flags", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cfg-"));
    const file = path.join(dir, "c.yaml");
    writeFileSync(file, "maxBatchSize: 8\nport: 7000\nexecutionProviders: [cuda, cpu]\n");
    const c = load(["--config", file, "--port", "7002"], { RANET_PORT: "7001", RANET_MAX_QUEUE_DELAY_MS: "5" });
    expect([c.maxBatchSize, c.port, c.maxQueueDelayMs]).toEqual([8, 7002, 5]);
    expect(c.executionProviders).toEqual(["cuda", "cpu"]);
    expect(load(["--thresholds", "0.9,0.8,0.7"]).thresholds).toEqual([0.9, 0.8, 0.7]);
    expect(load(["--controller=false"]).controller).toBe(false);
  });

  it("names the bad key and where it came from", () => {
    expect(() => load(["--max-batch-size", "0"])).toThrow(/config key 'maxBatchSize' from flag --max-batch-size: .*>=1/);
    expect(() => load([], { RANET_EXECUTION_PROVIDERS: "tpu" })).toThrow(/config key 'executionProviders' from env RANET_EXECUTION_PROVIDERS/);
    expect(() => load(["--no-such-flag", "1"])).toThrow(ConfigError);
    expect(() => load(["--port"])).toThrow(/--port needs a value/);
    const dir = mkdtempSync(path.join(os.tmpdir(), "cfg-"));
    writeFileSync(path.join(dir, "bad.yaml"), "maxBatchSiz: 8\n");
    expect(() => load(["--config", path.join(dir, "bad.yaml")])).toThrow(/maxBatchSiz/);
  });

  it("checks settings that go together", () => {
    expect(() => load(["--load-adaptive", "true", "--max-queue-wait-ms", "0"])).toThrow(/'loadAdaptive' needs 'maxQueueWaitMs' > 0/);
    expect(load(["--load-adaptive", "true"]).loadAdaptive).toBe(true);
    expect(() => load(["--load-adaptive-min-factor", "0"])).toThrow(/config key 'loadAdaptiveMinFactor'/);
    expect(load(["--priority-yield-utilization", "0.6"]).priorityYieldUtilization).toBe(0.6);
    expect(() => load(["--priority-yield-utilization", "1.5"])).toThrow(/config key 'priorityYieldUtilization' from flag --priority-yield-utilization: .*<=1/);
    expect(load([]).priorityYieldBatchSize).toBe(4); // lower levels' batches stay short while a higher level is active, by default
    expect(load(["--priority-yield-batch-size", "0"]).priorityYieldBatchSize).toBe(0);
    expect(() => load(["--priority-yield-batch-size", "-1"])).toThrow(/config key 'priorityYieldBatchSize'/);
    expect(() => load(["--tls-cert-file", "a.pem"])).toThrow(/'tlsCertFile' and 'tlsKeyFile' go together/);
  });

  it("--help documents every key with its flag and environment variable", () => {
    expect(loadConfig(["--help"], {})).toBe("help");
    const text = helpText();
    for (const key of Object.keys(load([]))) {
      const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      expect(text).toContain(`--${flag}`);
    }
    expect(text).toContain("RANET_MAX_QUEUE_DELAY_MS");
  });
});

describe("config: TLS keys", () => {
  it("needs certificate and key together, and TLS for client verification", () => {
    expect(() => load(["--tls-cert-file", "a.pem"])).toThrow(/'tlsCertFile' and 'tlsKeyFile' go together/);
    expect(() => load(["--tls-client-ca-file", "ca.pem"])).toThrow(/'tlsClientCaFile' needs/);
    expect(load(["--tls-cert-file", "a.pem", "--tls-key-file", "a.key"]).tlsCertFile).toBe("a.pem");
  });
});
