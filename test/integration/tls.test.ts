import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { startServer } from "../support/fixtures.js";
import { runCommandSync } from "../support/runCommand.js";

/** A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
function makeCerts(): Record<"ca" | "caKey" | "serverCert" | "serverKey" | "clientCert" | "clientKey", string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "certs-"));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => runCommandSync("openssl", args);
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "1", "-subj", "/CN=ranet-test-ca");
  writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const who of ["server", "client"]) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${who}.key`), "-out", f(`${who}.csr`), "-subj", `/CN=ranet-test-${who}`);
    ssl(
      "x509",
      "-req",
      "-in",
      f(`${who}.csr`),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-out",
      f(`${who}.pem`),
      "-days",
      "1",
      ...(who === "server" ? ["-extfile", f("server.ext")] : []),
    );
  }
  return {
    ca: f("ca.pem"),
    caKey: f("ca.key"),
    serverCert: f("server.pem"),
    serverKey: f("server.key"),
    clientCert: f("client.pem"),
    clientKey: f("client.key"),
  };
}

const certs = makeCerts();

/** A REST GET or POST over https: the status, or the error's code when the connection fails. */
function httpsCall(
  port: number,
  path: string,
  o: { ca?: string; cert?: string; key?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: o.body === undefined ? "GET" : "POST",
        headers: o.headers,
        ca: o.ca ? read(o.ca) : undefined,
        cert: o.cert ? read(o.cert) : undefined,
        key: o.key ? read(o.key) : undefined,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(String(res.statusCode)));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(o.body);
  });
}
const read = (p: string) => readFileSync(p);
const ping = (c: ReturnType<typeof makeClients>) =>
  unary(c.inference, "ServerLive", {}, 5000).then(
    () => "OK",
    (e: grpc.ServiceError) => grpc.status[e.code],
  );

describe("TLS", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer(["--tls-cert-file", certs.serverCert, "--tls-key-file", certs.serverKey]);
  });
  afterAll(() => s.stop());

  it("serves clients that trust the CA and refuses plaintext", async () => {
    const secure = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, grpc.credentials.createSsl(read(certs.ca)));
    expect(await ping(secure)).toBe("OK");
    secure.close();
    const plain = makeClients(`127.0.0.1:${s.app.grpcPort}`);
    expect(await ping(plain)).toBe("UNAVAILABLE");
    plain.close();
  });

  it("serves REST over https with the same certificate, and nothing in plaintext", async () => {
    expect(await httpsCall(s.app.httpPort!, "/v2/health/ready", { ca: certs.ca })).toBe("200");
    expect(await httpsCall(s.app.httpPort!, "/v2/health/ready")).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/); // a client that does not trust the CA
    const plain = await fetch(`http://127.0.0.1:${s.app.httpPort}/v2/health/ready`).then(
      (r) => r.status,
      () => "refused",
    );
    expect(plain).not.toBe(200);
  });
});

describe("mutual TLS", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer([
      "--tls-cert-file",
      certs.serverCert,
      "--tls-key-file",
      certs.serverKey,
      "--tls-client-ca-file",
      certs.ca,
      "--tenants",
      JSON.stringify([{ name: "ranet-test-client", budgetTarget: 0.3 }, { name: "forged" }]),
    ]);
  });
  afterAll(() => s.stop());

  it("takes the tenant from the client certificate's subject CN; a tenant header cannot override it", async () => {
    const c = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, grpc.credentials.createSsl(read(certs.ca), read(certs.clientKey), read(certs.clientCert)));
    const md = new grpc.Metadata();
    md.set("x-tenant", "forged");
    const tensor = { shape: [1, 28, 28], data: Buffer.alloc(784 * 4) };
    await new Promise<void>((resolve, reject) => c.classifier.Classify({ tensor }, md, (err: grpc.ServiceError | null) => (err ? reject(err) : resolve())));
    c.close();
    const metrics = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^ranet_tenant_requests_total\{model="ranet-fmnist",version="1",tenant="ranet-test-client"\} 1$/m);
    expect(metrics).not.toContain('tenant="forged"');
  });

  it("over REST too: the certificate names the tenant, and a client without one is refused", async () => {
    const body = JSON.stringify({ inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: Array(784).fill(0) }] });
    const path = "/v2/models/ranet-fmnist/infer";
    const headers = { "x-tenant": "forged" };
    expect(await httpsCall(s.app.httpPort!, path, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, body, headers })).toBe("200");
    const metrics = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^ranet_tenant_requests_total\{model="ranet-fmnist",version="1",tenant="ranet-test-client"\} 2$/m);
    expect(metrics).not.toContain('tenant="forged"');
    expect(await httpsCall(s.app.httpPort!, path, { ca: certs.ca, body })).not.toBe("200");
  });

  it("requires a client certificate signed by the configured CA", async () => {
    const withCert = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, grpc.credentials.createSsl(read(certs.ca), read(certs.clientKey), read(certs.clientCert)));
    expect(await ping(withCert)).toBe("OK");
    withCert.close();
    const without = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, grpc.credentials.createSsl(read(certs.ca)));
    expect(await ping(without)).toBe("UNAVAILABLE");
    without.close();
  });
});

describe("admin listener with its own mutual TLS", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    // the inference port in plaintext, the admin port with mutual TLS
    s = await startServer(["--admin-tls-cert-file", certs.serverCert, "--admin-tls-key-file", certs.serverKey, "--admin-tls-client-ca-file", certs.ca]);
  });
  afterAll(() => s.stop());

  const getModel = (creds: grpc.ChannelCredentials) => {
    const c = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, undefined, `127.0.0.1:${s.app.adminPort}`, creds);
    return unary(c.modelAdmin, "GetModel", {}, 5000)
      .then(
        (m) => `OK ${m.name}`,
        (e: grpc.ServiceError) => grpc.status[e.code],
      )
      .finally(() => c.close());
  };

  it("serves admin clients with a certificate from the CA, and refuses others", async () => {
    expect(await getModel(grpc.credentials.createSsl(read(certs.ca), read(certs.clientKey), read(certs.clientCert)))).toBe("OK ranet-fmnist");
    expect(await getModel(grpc.credentials.createSsl(read(certs.ca)))).toBe("UNAVAILABLE"); // no client certificate
    expect(await getModel(grpc.credentials.createInsecure())).toBe("UNAVAILABLE");
    // the inference port stays plaintext
    expect(await ping(s.clients)).toBe("OK");
  });
});
