import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type Config, loadConfig } from "../../src/config/config.js";
import { autoEngineWorkers } from "../../src/core/usableCpus.js";

const DEPLOY = path.resolve("deploy");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : e.name.endsWith(".yaml") ? [path.join(dir, e.name)] : [],
  );
}

const docs = yamlFiles(DEPLOY).flatMap((file) =>
  parseAllDocuments(readFileSync(file, "utf8")).map((d) => ({ file: path.relative(DEPLOY, file), obj: d.toJS() as any })),
);
const k8s = docs.filter((d) => d.obj?.apiVersion && d.obj?.kind && !d.obj.apiVersion.startsWith("kustomize.config.k8s.io"));
const find = (kind: string, file?: string) => k8s.find((d) => d.obj.kind === kind && (!file || d.file === file))!.obj;

/** The kubernetes-models class for an object, by apiVersion and kind. */
async function modelFor(apiVersion: string, kind: string): Promise<any> {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return (await import(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`))[kind];
  const mod = group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
  return (await import(mod))[kind];
}

describe("Kubernetes manifests", () => {
  it("every manifest validates against its API schema (patches merged onto their base object)", async () => {
    const validated: string[] = [];
    for (const d of k8s) {
      if (d.obj.apiVersion.startsWith("serving.kserve.io")) continue; // checked below: no published schema package
      let obj = d.obj;
      if (d.file.startsWith("overlays/")) {
        // a strategic-merge patch: validate it merged onto the base object of the same kind
        const base = k8s.find((b) => b.file.startsWith("base/") && b.obj.kind === obj.kind && b.obj.metadata.name === obj.metadata.name)!.obj;
        obj = merge(structuredClone(base), obj);
      }
      const Model = await modelFor(obj.apiVersion, obj.kind);
      expect(() => new Model(obj).validate(), `${d.file} (${obj.kind})`).not.toThrow();
      validated.push(`${obj.kind}`);
    }
    // the schemas do reject a broken object
    const Deployment = await modelFor("apps/v1", "Deployment");
    const broken = structuredClone(find("Deployment", "base/deployment.yaml"));
    broken.spec.replicas = "two";
    expect(() => new Deployment(broken).validate()).toThrow();
    for (const kind of [
      "Deployment",
      "Service",
      "HorizontalPodAutoscaler",
      "PodDisruptionBudget",
      "ConfigMap",
      "NetworkPolicy",
      "ServiceMonitor",
      "PrometheusRule",
    ]) {
      expect(validated).toContain(kind);
    }
  });

  it("every file a kustomization names exists", () => {
    for (const d of docs.filter((x) => x.obj?.kind === "Kustomization")) {
      const dir = path.join(DEPLOY, path.dirname(d.file));
      const named = [...(d.obj.resources ?? []), ...(d.obj.components ?? []), ...(d.obj.patches ?? []).map((p: any) => p.path)].filter(Boolean);
      for (const r of named) {
        expect(existsSync(path.resolve(dir, r)), `${d.file}: ${r}`).toBe(true);
      }
    }
  });

  it("ConfigMap keys are valid server settings and ports agree with probes, Service and ServiceMonitor", () => {
    const cm = find("ConfigMap", "base/configmap.yaml");
    const config = loadConfig([], cm.data) as Config;
    for (const key of Object.keys(cm.data)) expect(key).toMatch(/^RANET_/);
    const gpu = find("ConfigMap", "overlays/gpu/configmap-gpu.yaml");
    expect((loadConfig([], { ...cm.data, ...gpu.data }) as Config).executionProviders).toEqual(["cuda", "cpu"]);
    const dep = find("Deployment", "base/deployment.yaml");
    const c = dep.spec.template.spec.containers[0];
    const port = (name: string) => c.ports.find((p: any) => p.name === name).containerPort;
    expect(port("grpc")).toBe(config.port);
    expect(port("http")).toBe(config.httpPort);
    expect(port("metrics")).toBe(config.metricsPort);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      expect(c[probe].grpc).toEqual({ port: config.port, service: "" });
    }
    expect(dep.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.shutdownGraceMs + 5000);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(dep.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    const svc = find("Service", "base/service.yaml");
    expect(svc.spec.ports.map((p: any) => p.port)).toEqual([config.port, config.httpPort, config.metricsPort]);
    expect(find("ServiceMonitor").spec.endpoints[0].port).toBe("metrics");
    const np = find("NetworkPolicy");
    expect(np.spec.ingress.flatMap((i: any) => i.ports.map((p: any) => p.port)).sort()).toEqual([config.port, config.httpPort, config.metricsPort].sort());
    // the admin listener stays on the pod's loopback, and nothing opens its port
    expect(config.adminHost).toBe("127.0.0.1");
    const exposed = [
      ...svc.spec.ports.map((p: any) => p.port),
      ...c.ports.map((p: any) => p.containerPort),
      ...np.spec.ingress.flatMap((i: any) => i.ports.map((p: any) => p.port)),
    ];
    expect(exposed).not.toContain(config.adminPort);
    expect(exposed).not.toContain(config.adminHttpPort);
    const gpuDep = find("Deployment", "overlays/gpu/deployment-gpu.yaml");
    expect(gpuDep.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe("1");
  });

  it("every workload (base, GPU overlay, KServe) has probes, metrics and a worker count that fit its resources", () => {
    const cm = find("ConfigMap", "base/configmap.yaml");
    const gpuCm = find("ConfigMap", "overlays/gpu/configmap-gpu.yaml");
    const base = find("Deployment", "base/deployment.yaml");
    const gpu = merge(structuredClone(base), find("Deployment", "overlays/gpu/deployment-gpu.yaml"));
    const rt = find("ServingRuntime");
    const workloads = [
      { name: "base", container: base.spec.template.spec.containers[0], config: loadConfig([], cm.data) as Config },
      { name: "gpu", container: gpu.spec.template.spec.containers[0], config: loadConfig([], { ...cm.data, ...gpuCm.data }) as Config },
      { name: "kserve", container: rt.spec.containers[0], config: loadConfig(rt.spec.containers[0].args, {}) as Config },
    ];
    const mib = (q: string) => (q.endsWith("Gi") ? Number(q.slice(0, -2)) * 1024 : Number(q.slice(0, -2)));
    for (const w of workloads) {
      const c = w.container;
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        // gRPC health, or KServe v2's REST health on the REST port
        if (c[probe]?.httpGet) {
          expect(c[probe].httpGet, `${w.name} ${probe}`).toEqual({
            path: probe === "livenessProbe" ? "/v2/health/live" : "/v2/health/ready",
            port: w.config.httpPort,
          });
        } else expect(c[probe]?.grpc, `${w.name} ${probe}`).toEqual({ port: w.config.port, service: "" });
      }
      // one slow health answer must not take a pod out of service
      expect(c.readinessProbe.failureThreshold, `${w.name} readiness`).toBeGreaterThanOrEqual(3);
      expect(c.readinessProbe.timeoutSeconds, `${w.name} readiness`).toBeGreaterThanOrEqual(2);
      // workers set explicitly, as the automatic count would from the CPU limit
      const provider = w.config.executionProviders[0]!;
      expect(w.config.engineWorkers, `${w.name} engineWorkers`).toBe(autoEngineWorkers(provider, Number(c.resources.limits.cpu)));
      // about 220 MiB for the process and 130 MiB per worker (measured, docs/operations.md), with
      // half as much again for headroom, must fit the memory limit
      expect(mib(c.resources.limits.memory), `${w.name} memory`).toBeGreaterThanOrEqual(1.5 * (220 + 130 * w.config.engineWorkers));
      expect(w.config.adminHost, `${w.name} admin listener`).toBe("127.0.0.1");
    }
    // metrics: a named port scraped by the ServiceMonitor; KServe's scrape annotations
    expect(base.spec.template.spec.containers[0].ports.find((p: any) => p.name === "metrics").containerPort).toBe(workloads[0]!.config.metricsPort);
    expect(find("ServiceMonitor").spec.endpoints[0].port).toBe("metrics");
    expect(rt.spec.annotations["prometheus.kserve.io/port"]).toBe(String(workloads[2]!.config.metricsPort));
    expect(find("InferenceService").metadata.annotations["serving.kserve.io/enable-prometheus-scraping"]).toBe("true");
    // replicas spread over zones and nodes
    const spread = base.spec.template.spec.topologySpreadConstraints.map((t: any) => t.topologyKey);
    expect(spread).toEqual(["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
  });

  it("the prometheus-release component labels the ServiceMonitor and PrometheusRule for kube-prometheus-stack", () => {
    const component = docs.find((d) => d.file === "components/prometheus-release/kustomization.yaml")!.obj;
    expect(component.kind).toBe("Component");
    const labelled = component.patches.map((p: any) => ({ kind: p.target.kind, patch: parseAllDocuments(p.patch)[0]!.toJS() }));
    for (const kind of ["ServiceMonitor", "PrometheusRule"]) {
      expect(labelled.find((l: any) => l.kind === kind)?.patch).toEqual([{ op: "add", path: "/metadata/labels/release", value: "kube-prometheus-stack" }]);
    }
  });

  it("the PrometheusRule carries exactly the groups of deploy/prometheus/rules.yaml", () => {
    const plain = parseAllDocuments(readFileSync(path.join(DEPLOY, "prometheus/rules.yaml"), "utf8"))[0]!.toJS();
    expect(find("PrometheusRule").spec.groups).toEqual(plain.groups);
  });

  it("the KServe runtime speaks v2 (REST) and grpc-v2 and passes valid server flags", () => {
    const rt = find("ServingRuntime");
    expect(rt.spec.protocolVersions).toEqual(["v2", "grpc-v2"]);
    const args: string[] = rt.spec.containers[0].args;
    const cfg = loadConfig(args, {}) as Config;
    expect(rt.spec.containers[0].ports).toEqual([{ name: "http1", containerPort: cfg.httpPort, protocol: "TCP" }]);
    expect(cfg.adminHost).toBe("127.0.0.1");
    // every listener on its own port
    const ports = [cfg.port, cfg.httpPort, cfg.adminPort, cfg.adminHttpPort, cfg.metricsPort];
    expect(new Set(ports).size).toBe(ports.length);
    const rest = find("InferenceService", "kserve/inferenceservice.yaml");
    const grpc = find("InferenceService", "kserve/inferenceservice-grpc.yaml");
    expect(rest.spec.predictor.model.protocolVersion).toBe("v2");
    expect(grpc.spec.predictor.model.protocolVersion).toBe("grpc-v2");
    expect(grpc.spec.predictor.model.ports).toEqual([{ name: "h2c", containerPort: cfg.port, protocol: "TCP" }]);
    expect(grpc.spec.predictor.model.readinessProbe.grpc).toEqual({ port: cfg.port, service: "" });
    for (const isvc of [rest, grpc]) {
      expect(isvc.spec.predictor.model.runtime).toBe(rt.metadata.name);
      expect(isvc.spec.predictor.model.modelFormat.name).toBe(rt.spec.supportedModelFormats[0].name);
    }
  });

  it("docs/deploy.md and the Dockerfile name the ports the manifests open", () => {
    const config = loadConfig([], find("ConfigMap", "base/configmap.yaml").data) as Config;
    const guide = readFileSync("docs/deploy.md", "utf8");
    const table = /\| port \| listener[^\n]*\n\|[-| ]+\n((?:\|[^\n]*\n)+)/.exec(guide)?.[1] ?? "";
    const rows = Object.fromEntries(
      table
        .trim()
        .split("\n")
        .map((r) => r.split("|").map((c) => c.trim()))
        .map((c) => [c[1], c[2]]),
    );
    expect(rows).toEqual({
      [String(config.port)]: expect.stringMatching(/^gRPC/),
      [String(config.httpPort)]: expect.stringMatching(/^REST/),
      [String(config.metricsPort)]: expect.stringMatching(/^metrics/),
      [String(config.adminPort)]: expect.stringMatching(/^admin gRPC/),
      [String(config.adminHttpPort)]: expect.stringMatching(/^admin REST/),
    });
    const exposed = /^EXPOSE (.*)$/m.exec(readFileSync("Dockerfile", "utf8"))![1]!.split(" ").map(Number);
    expect(exposed).toEqual([config.port, config.httpPort, config.metricsPort]);
  });
});

/** Strategic-merge subset: objects merge by key, lists of named objects merge by name. */
function merge(base: any, patch: any): any {
  if (Array.isArray(base) && Array.isArray(patch)) {
    if (patch.every((p) => p && typeof p === "object" && "name" in p)) {
      const out = [...base];
      for (const p of patch) {
        const i = out.findIndex((b) => b?.name === p.name);
        if (i >= 0) out[i] = merge(out[i], p);
        else out.push(p);
      }
      return out;
    }
    return patch;
  }
  if (base && patch && typeof base === "object" && typeof patch === "object") {
    for (const [k, v] of Object.entries(patch)) base[k] = k in base ? merge(base[k], v) : v;
    return base;
  }
  return patch;
}

const hasKubectl = spawnSync("kubectl", ["version", "--client"]).status === 0;

describe.runIf(hasKubectl)("kubectl kustomize renders what docs/deploy.md applies", () => {
  it.each(["overlays/cpu", "overlays/gpu", "overlays/hpa-queue-wait", "base"])("%s", (dir) => {
    const out = spawnSync("kubectl", ["kustomize", path.join(DEPLOY, dir)], { encoding: "utf8" });
    expect(out.stderr).toBe("");
    const objs = parseAllDocuments(out.stdout).map((d) => d.toJS() as any);
    const dep = objs.find((o) => o.kind === "Deployment");
    // the image tags docs/deploy.md and the Dockerfile's header build
    const dockerfile = readFileSync("Dockerfile", "utf8");
    const image = dep.spec.template.spec.containers[0].image as string;
    expect(image).toBe(dir === "overlays/gpu" ? "ranet-serving:0.1.0-cuda" : "ranet-serving:0.1.0");
    expect(dockerfile).toContain(`docker build -t ${image}`);
    expect(readFileSync("docs/deploy.md", "utf8")).toContain(`docker build -t ${image}`);
    // the REST port everywhere the gRPC port is: container, Service, NetworkPolicy, settings
    const rest = Number(objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === "ranet-serving").data.RANET_HTTP_PORT);
    expect(dep.spec.template.spec.containers[0].ports.find((p: any) => p.name === "http").containerPort).toBe(rest);
    expect(objs.find((o) => o.kind === "Service" && o.metadata.name === "ranet-serving").spec.ports.find((p: any) => p.name === "http").port).toBe(rest);
    expect(objs.find((o) => o.kind === "NetworkPolicy").spec.ingress[0].ports.map((p: any) => p.port)).toEqual([50051, rest]);
    // every model's config.yaml is mounted from the ConfigMap that holds it
    const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === "ranet-model-config");
    for (const m of dep.spec.template.spec.containers[0].volumeMounts.filter((v: any) => v.name === "model-config")) {
      expect(Object.keys(cm.data)).toContain(m.subPath);
    }
  });
});
