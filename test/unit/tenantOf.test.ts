import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { tenantOf } from "../../src/grpc/tenantOf.js";

const call = (headers: Record<string, string>, cert?: { subject?: { CN?: string }; subjectaltname?: string }) => {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return { metadata, getAuthContext: () => (cert ? { transportSecurityType: "ssl", sslPeerCertificate: cert } : {}) } as unknown as Parameters<
    typeof tenantOf
  >[0];
};

describe("tenantOf", () => {
  it("reads the tenant header, or none", () => {
    expect(tenantOf(call({ "x-tenant": "gold" }), "x-tenant")).toBe("gold");
    expect(tenantOf(call({}), "x-tenant")).toBe("");
    expect(tenantOf(call({ "x-org": "acme" }), "x-org")).toBe("acme");
  });

  it("takes a client certificate's subject CN, else its first URI SAN, over any header", () => {
    expect(tenantOf(call({ "x-tenant": "forged" }, { subject: { CN: "gold" } }), "x-tenant")).toBe("gold");
    const spiffe = { subject: {}, subjectaltname: "DNS:client.local, URI:spiffe://acme/ns/a/sa/b, URI:https://x" };
    expect(tenantOf(call({ "x-tenant": "forged" }, spiffe), "x-tenant")).toBe("spiffe://acme/ns/a/sa/b");
  });

  it("refuses a header value that is not a tenant name, quoting at most 64 characters", () => {
    expect(() => tenantOf(call({ "x-tenant": "a b" }), "x-tenant")).toThrow(/^metadata 'x-tenant': expected a tenant name .*, got 'a b'$/);
    expect(() => tenantOf(call({ "x-tenant": "x".repeat(500) }), "x-tenant")).toThrow(/\(500 characters\)$/);
  });
});
