// Loading a definition safely: what reaches researcher code (nothing of the
// environment), how each kind of mistake in a definition is reported (file and
// line, never a stack trace), and the limits on the child process.

import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDefinition } from "../../src/pipeline/definitions.js";
import { datasetFromJson } from "../../src/querymodel/index.js";
import { DEFINITION, enclave, ensureBuilt, removeStudies, study } from "./helpers.js";
import { sandboxAvailable } from "../../src/pipeline/index.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

/** Runs `enclave dump-dataset-definition def.ts` on a definition in a fresh folder. */
async function dump(source: string, extra: Record<string, string> = {}, env: Record<string, string> = {}) {
  const dir = study({ "def.ts": source, ...extra });
  return enclave(["dump-dataset-definition", "def.ts"], { cwd: dir, env });
}

async function dumpWith(args: string[], source: string, extra: Record<string, string> = {}, env: Record<string, string> = {}) {
  const dir = study({ "def.ts": source, ...extra });
  return enclave(["dump-dataset-definition", "def.ts", ...args], { cwd: dir, env });
}

const NO_STACK = /^\s+at /m;

describe.concurrent("loading a definition", { timeout: 60_000 }, () => {
  it("prints the validated query model as JSON", async () => {
    const r = await dump(DEFINITION);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const dataset = datasetFromJson(JSON.parse(r.stdout));
    expect(dataset.variables.map((v) => v.name)).toEqual(["sex", "events", "last_value"]);
  });

  it("runs researcher code with an empty environment: no credential reaches it", async () => {
    const r = await dump(
      `
import { createDataset, patientTable } from "enclave";
const env = (globalThis as unknown as { process: { env: Record<string, string> } }).process.env;
if (Object.keys(env).length > 0) throw new Error("the definition can see " + Object.keys(env).join(", "));
const people = patientTable("people", { sex: "str" });
const dataset = createDataset();
dataset.definePopulation(people.existsForPatient());
export default dataset;
`,
      {},
      { SECRET_TEST_VALUE: "hunter2", DATABASE_URL: "postgresql://user:secret@db/x" },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it.runIf(sandboxAvailable())("runs researcher code in a sandbox: no other process's environment, no network", async () => {
    const server = net.createServer((c) => c.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const r = await dumpWith(["--param", `port=${port}`],
      `
import { createDataset, getParameter, patientTable } from "enclave";
// @ts-ignore: no Node types in definitions
import * as fs from "node:fs";
// @ts-ignore
import * as net from "node:net";
for (const pid of fs.readdirSync("/proc").filter((p: string) => /^\\d+$/.test(p))) {
  let env = "";
  try { env = fs.readFileSync("/proc/" + pid + "/environ", "utf8"); } catch { continue; }
  if (env.includes("hunter2")) throw new Error("read a secret from process " + pid);
}
await new Promise<void>((resolve, reject) => {
  const s = net.connect(Number(getParameter("port")), "127.0.0.1");
  s.on("connect", () => reject(new Error("reached the network")));
  s.on("error", () => resolve());
});
const people = patientTable("people", { sex: "str" });
const dataset = createDataset();
dataset.definePopulation(people.existsForPatient());
export default dataset;
`,
      {},
      { SECRET_TEST_VALUE: "hunter2" },
    );
    server.close();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("refuses to run without a sandbox when asked to require one", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const load = loadDefinition(path.join(dir, "def.ts"), { sandbox: "required" });
    if (sandboxAvailable()) await expect(load).resolves.toBeDefined();
    else await expect(load).rejects.toThrow(/bubblewrap/);
  });

  it("accepts the export named dataset, and relative imports of other TypeScript files, written as .ts, .js or bare", async () => {
    const r = await dump(
      `
import { createDataset } from "enclave";
import { people } from "./tables.ts";
import { adults } from "./lib/conditions.js";
import { label } from "./lib/label";
export const dataset = createDataset();
dataset.definePopulation(adults);
dataset.addColumn(label, people.sex);
`,
      {
        "tables.ts": `import { patientTable } from "enclave";\nexport const people = patientTable("people", { date_of_birth: "date", sex: "str" });\n`,
        "lib/conditions.ts": `import { people } from "../tables.ts";\nexport const adults = people.date_of_birth.isBefore("2006-01-01");\n`,
        "lib/label.ts": `export const label = "sex";\n`,
      },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("reports a syntax error with file, line and column", async () => {
    const r = await dump(`import { createDataset } from "enclave";\nconst dataset = createDataset(;\nexport default dataset;\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: def.ts:2:31: ')' expected.\n");
  });

  it("reports every type error with file, line and column", async () => {
    const r = await dump(`import { createDataset } from "enclave";
const n: number = "one";
const dataset = createDataset();
const ok: boolean = dataset;
export default dataset;
`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: def.ts:2:7: Type 'string' is not assignable to type 'number'.\n" +
        "error: def.ts:4:7: Type 'Dataset' is not assignable to type 'boolean'.\n",
    );
  });

  it("type-checks the definition against Enclave's own types, in files it imports too", async () => {
    const r = await dump(`import { createDataset, patientTable } from "enclave";
import { clinicalEvents } from "enclave/tables/core";
import { helper } from "./helper.ts";
const p = patientTable("people", { sex: "str" });
const dataset = createDataset();
dataset.definePopulation(p.sex.isNotNull());
dataset.addColumn("n", clinicalEvents.count_for_patient());
export default dataset;
`, { "helper.ts": "export const helper: string = 1;\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: helper.ts:1:14: Type 'number' is not assignable to type 'string'.\n");
    expect(r.stderr).toContain("error: def.ts:7:39: Property 'count_for_patient' does not exist on type");
  });

  it("reports an error that the language throws at the line of the definition that caused it, without a stack trace", async () => {
    const r = await dump(`import { createDataset, patientTable } from "enclave";

// A comment, and a type, so that the .ts line differs from the JavaScript's.
type Unused = { a: number };
const people = patientTable("people", { sex: "str" });
const dataset = createDataset();
dataset.addColumn("not a name", people.sex);
export default dataset;
`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: def\.ts:7: addColumn\("not a name"\): .*\n$/);
    expect(r.stderr).not.toMatch(NO_STACK);
  });

  it("reports a JavaScript error in the definition with its name, file and line", async () => {
    const r = await dump(`import { createDataset } from "enclave";
const settings: { window?: { days: number } } = JSON.parse("{}");
console.log(settings.window!.days);
export default createDataset();
`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: def.ts:3: TypeError: Cannot read properties of undefined (reading 'days')\n");
  });

  it("reports an error thrown in an imported file at that file's line", async () => {
    const dir = study({
      "analysis/def.ts": `import { createDataset } from "enclave";\nimport { check } from "../lib/check.ts";\ncheck();\nexport default createDataset();\n`,
      "lib/check.ts": `export function check(): void {\n  throw new Error("the check failed");\n}\n`,
    });
    const r = await enclave(["dump-dataset-definition", "analysis/def.ts"], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([1, "error: lib/check.ts:2: the check failed\n"]);
  });

  it("refuses a definition that exports no dataset", async () => {
    const none = await dump(`import { createDataset } from "enclave";\nexport const ds = createDataset();\n`);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      'error: def.ts: a dataset definition must export a Dataset (made with createDataset()) as its default export or as "dataset"; it exports neither\n',
    );
    const other = await dump(`export default 42;\n`);
    expect(other.stderr).toBe(
      'error: def.ts: a dataset definition must export a Dataset (made with createDataset()) as its default export or as "dataset"; its default export is a number\n',
    );
  });

  it("refuses a dataset without a population", async () => {
    const r = await dump(`import { createDataset } from "enclave";\nexport default createDataset();\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: def\.ts: .*population.*\n$/);
  });

  it("refuses a missing file, a folder and a file that is not TypeScript", async () => {
    const dir = study({ "def.py": "dataset = create_dataset()\n", "sub/x.ts": "" });
    for (const [arg, message] of [
      ["nope.ts", "dataset definition nope.ts does not exist"],
      ["sub", "dataset definition sub is not a file"],
      ["def.py", "dataset definition def.py must be a TypeScript file (.ts or .mts)"],
    ]) {
      const r = await enclave(["dump-dataset-definition", arg!], { cwd: dir });
      expect([r.code, r.stderr]).toEqual([1, `error: ${message}\n`]);
    }
  });
});

describe.concurrent("the child's limits", { timeout: 60_000 }, () => {
  it("stops a definition that runs too long", async () => {
    const dir = study({ "def.ts": `import { createDataset } from "enclave";\nfor (;;) {}\nexport default createDataset();\n` });
    await expect(loadDefinition(path.join(dir, "def.ts"), { timeoutMs: 1500 })).rejects.toThrow(/def\.ts: the definition did not finish within 1\.5 s$/);
  });

  it("stops a definition that uses too much memory", async () => {
    const dir = study({
      "def.ts": `import { createDataset } from "enclave";\nconst a: number[][] = [];\nfor (;;) a.push(new Array(100_000).fill(1));\nexport default createDataset();\n`,
    });
    const stderr = process.stderr.write;
    process.stderr.write = () => true; // V8's report of the crash
    try {
      await expect(loadDefinition(path.join(dir, "def.ts"), { maxMemoryMb: 64 })).rejects.toThrow(/def\.ts: the definition ran out of memory \(the limit is 64 MB\)$/);
    } finally {
      process.stderr.write = stderr;
    }
  });
});
