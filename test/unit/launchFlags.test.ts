/** The server starts with the same Node flags wherever it starts: npm start, the built image, and the tests' and benchmarks' server processes. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SERVER_NODE_FLAGS } from "../support/serverProcess.js";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));

describe("the server's Node flags", () => {
  it("are the same in npm start, npm run start:dist, the Dockerfile and the test server processes", () => {
    const flags = SERVER_NODE_FLAGS.join(" ");
    expect(pkg.scripts.start).toBe(`node ${flags} --import tsx src/main.ts`);
    expect(pkg.scripts["start:dist"]).toBe(`node ${flags} dist/main.js`);
    expect(readFileSync("Dockerfile", "utf8")).toContain(`ENTRYPOINT ["node", ${SERVER_NODE_FLAGS.map((f) => JSON.stringify(f)).join(", ")}, "dist/main.js"]`);
  });
});
