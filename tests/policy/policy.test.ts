import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as policyModule from "../../src/policy/index.js";
import {
  ALLOWLISTS,
  DATASET_PERMISSIONS,
  DEFAULT_POLICY_DIR,
  PolicyError,
  analysisScope,
  checkDefinitionAgainstScope,
  loadPolicy,
  type Policy,
} from "../../src/policy/index.js";
import { createDataset } from "../../src/language/index.js";
import * as tpp from "../../src/language/tables/tpp.js";
import { tppTables } from "../../src/language/tables/tpp.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const EMPTY = "entries: []\n";

/** A policy folder with every list empty except those given. */
function policyDir(files: Partial<Record<string, string>> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "enclave-policy-"));
  dirs.push(dir);
  for (const list of ALLOWLISTS) writeFileSync(join(dir, `${list}.yaml`), files[list] ?? EMPTY);
  for (const [name, text] of Object.entries(files)) {
    if (!(ALLOWLISTS as readonly string[]).includes(name)) writeFileSync(join(dir, name), text!);
  }
  return dir;
}

const entry = (project: number, permissions: string[], extra = "") =>
  `  - project: ${project}\n    permissions: [${permissions.join(", ")}]\n    reason: test\n    approval: IG-${project}\n    date: 2024-03-01\n${extra}`;

const FIXTURE = {
  t1oo: `entries:\n${entry(10, ["include_t1oo"])}`,
  ndoo: `entries:\n${entry(11, ["include_ndoo"])}${entry(10, ["include_ndoo"])}`,
  "restricted-datasets": `entries:\n${entry(12, ["appointments", "waiting_list"])}${entry(10, ["ukrr"])}`,
  sqlrunner: `entries:\n${entry(1, ["sqlrunner"])}${entry(12, ["sqlrunner"])}`,
};

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems;
  }
  throw new Error("expected a PolicyError");
}

describe("analysisScope", () => {
  const policy: Policy = loadPolicy(policyDir(FIXTURE));
  const ongoing = { status: "ongoing", category: "approved" } as const;

  it("grants each listed permission to the listed project only", () => {
    expect(analysisScope({ number: 10, ...ongoing }, policy).permissions).toEqual(["include_ndoo", "include_t1oo", "ukrr"]);
    expect(analysisScope({ number: 11, ...ongoing }, policy).permissions).toEqual(["include_ndoo"]);
    expect(analysisScope({ number: 12, ...ongoing }, policy).permissions).toEqual(["appointments", "waiting_list"]);
  });

  it("denies by default: an unlisted project gets nothing, and opt-outs apply", () => {
    const s = analysisScope({ number: 99, ...ongoing }, policy);
    expect(s.permissions).toEqual([]);
    expect(s.sqlRunner).toBe(false);
    expect(s.reasons.join("\n")).toMatch(/type 1 opt-out patients are excluded/);
    expect(s.reasons.join("\n")).toMatch(/national data opt-out applies/);
  });

  it.each([
    ["include_t1oo", 10, 11],
    ["include_ndoo", 11, 12],
    ["appointments", 12, 10],
    ["waiting_list", 12, 11],
    ["ukrr", 10, 12],
  ])("grants %s to project %i and not to project %i", (permission, listed, other) => {
    expect(analysisScope({ number: listed, ...ongoing }, policy).permissions).toContain(permission);
    expect(analysisScope({ number: other, ...ongoing }, policy).permissions).not.toContain(permission);
  });

  it("keys projects by number; a numeric string is the same project, a slug is nobody", () => {
    expect(analysisScope({ number: "10", ...ongoing }, policy).permissions).toContain("include_t1oo");
    expect(analysisScope({ number: "project-10", ...ongoing }, policy).permissions).toEqual([]);
  });

  it.each(["postponed", "completed", "retired", undefined])("gives a project whose status is %s no permissions, with a reason", (status) => {
    const s = analysisScope({ number: 1, category: "internal", ...(status ? { status } : {}) }, policy);
    expect(s.permissions).toEqual([]);
    expect(s.sqlRunner).toBe(false);
    expect(s.reasons[0]).toMatch(/is not ongoing/);
    expect(analysisScope({ number: 10, category: "approved", ...(status ? { status } : {}) }, policy).permissions).toEqual([]);
  });

  it("gives the SQL runner to the listed internal project and to nobody else", () => {
    expect(analysisScope({ number: 1, category: "internal", status: "ongoing" }, policy).sqlRunner).toBe(true);
    // The internal project's jobs still exclude T1OO patients: the SQL runner is not a population permission.
    expect(analysisScope({ number: 1, category: "internal", status: "ongoing" }, policy).permissions).toEqual([]);
    // Listed, but not internal: a mistaken entry grants nothing, and says why.
    const wrong = analysisScope({ number: 12, category: "approved", status: "ongoing" }, policy);
    expect(wrong.sqlRunner).toBe(false);
    expect(wrong.reasons.join("\n")).toMatch(/only the internal project may run SQL/);
    // Internal, but not listed.
    expect(analysisScope({ number: 99, category: "internal", status: "ongoing" }, policy).sqlRunner).toBe(false);
    expect(analysisScope({ number: 10, ...ongoing }, policy).sqlRunner).toBe(false);
  });
});

describe("nothing grants at run time", () => {
  it("offers no way to add to the lists: the module exports readers only, and the policy is frozen", () => {
    expect(Object.keys(policyModule).filter((k) => typeof (policyModule as Record<string, unknown>)[k] === "function").sort()).toEqual(
      ["PolicyError", "analysisScope", "checkDefinitionAgainstScope", "loadPolicy"].sort(),
    );
    const policy = loadPolicy(policyDir(FIXTURE));
    expect(Object.isFrozen(policy) && Object.isFrozen(policy.lists) && Object.isFrozen(policy.lists.t1oo) && Object.isFrozen(policy.lists.t1oo[0])).toBe(true);
    expect(() => (policy.lists.t1oo as unknown[]).push({ project: 99, permissions: ["include_t1oo"] })).toThrow();
    const scope = analysisScope({ number: 10, status: "ongoing" }, policy);
    expect(() => (scope.permissions as string[]).push("appointments")).toThrow();
  });

  it("depends only on the files: not the environment, not what the project claims, not earlier calls", () => {
    const dir = policyDir(FIXTURE);
    const before = analysisScope({ number: 99, status: "ongoing" }, loadPolicy(dir));
    const saved = process.env.ENCLAVE_PERMISSIONS;
    process.env.ENCLAVE_PERMISSIONS = JSON.stringify(["include_t1oo", "appointments"]);
    try {
      const claiming = { number: 99, status: "ongoing", permissions: ["include_t1oo"], sqlRunner: true } as { number: number; status: string };
      expect(analysisScope(claiming, loadPolicy(dir))).toEqual(before);
    } finally {
      if (saved === undefined) delete process.env.ENCLAVE_PERMISSIONS;
      else process.env.ENCLAVE_PERMISSIONS = saved;
    }
    // Changing the file is the only way in.
    writeFileSync(join(dir, "t1oo.yaml"), `entries:\n${entry(99, ["include_t1oo"])}`);
    expect(analysisScope({ number: 99, status: "ongoing" }, loadPolicy(dir)).permissions).toEqual(["include_t1oo"]);
  });
});

describe("loadPolicy", () => {
  it("loads the committed allowlists cleanly, and they are all present", () => {
    const policy = loadPolicy();
    expect(Object.keys(policy.lists).sort()).toEqual([...ALLOWLISTS].sort());
    expect(readdirSync(DEFAULT_POLICY_DIR).sort()).toEqual(ALLOWLISTS.map((l) => `${l}.yaml`).sort());
  });

  it("knows exactly the permissions the restricted tables declare", () => {
    const declared = new Set(Object.values(tppTables).flatMap((t) => (t.requiredPermission ? [t.requiredPermission] : [])));
    expect(new Set(DATASET_PERMISSIONS)).toEqual(declared);
    // The committed restricted-datasets file documents every one of them.
    const text = readFileSync(join(DEFAULT_POLICY_DIR, "restricted-datasets.yaml"), "utf8");
    for (const p of declared) expect(text).toContain(p);
  });

  it("refuses an unknown key, naming the file and line", () => {
    const dir = policyDir({ t1oo: `entries:\n${entry(10, ["include_t1oo"], "    expires: 2030-01-01\n")}` });
    const [p] = problemsOf(() => loadPolicy(dir));
    expect(p).toMatchObject({ line: 7, column: 5 });
    expect(p!.file).toMatch(/t1oo\.yaml$/);
    expect(p!.message).toMatch(/unknown key "expires"/);
    expect(() => loadPolicy(dir)).toThrow(/t1oo\.yaml:7:5: unknown key "expires"/);
  });

  it("refuses an unknown key at the top level", () => {
    const problems = problemsOf(() => loadPolicy(policyDir({ ndoo: "entries: []\ngrant_all: true\n" })));
    expect(problems).toEqual([expect.objectContaining({ line: 2, message: expect.stringMatching(/unknown key "grant_all"/) })]);
  });

  it("refuses an unknown permission name, and one meant for another list", () => {
    const problems = problemsOf(() =>
      loadPolicy(
        policyDir({
          "restricted-datasets": `entries:\n${entry(12, ["appointment"])}`,
          sqlrunner: `entries:\n${entry(1, ["include_t1oo"])}`,
        }),
      ),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatchObject({ line: 3, message: expect.stringMatching(/unknown permission "appointment" for restricted-datasets\.yaml/) });
    expect(problems[0]!.file).toMatch(/restricted-datasets\.yaml$/);
    expect(problems[1]).toMatchObject({ line: 3, message: expect.stringMatching(/unknown permission "include_t1oo" for sqlrunner\.yaml/) });
  });

  it("refuses a duplicate project, naming both lines", () => {
    const problems = problemsOf(() => loadPolicy(policyDir({ "restricted-datasets": `entries:\n${entry(12, ["appointments"])}${entry(12, ["ukrr"])}` })));
    expect(problems).toEqual([expect.objectContaining({ line: 7, message: "duplicate entry: project 12 is already listed at line 2" })]);
  });

  it("refuses a duplicate permission within an entry and a duplicate key", () => {
    const dup = problemsOf(() => loadPolicy(policyDir({ "restricted-datasets": `entries:\n${entry(12, ["ukrr", "ukrr"])}` })));
    expect(dup).toEqual([expect.objectContaining({ line: 3, message: expect.stringMatching(/duplicate permission "ukrr"/) })]);
    const key = problemsOf(() => loadPolicy(policyDir({ t1oo: `entries:\n${entry(10, ["include_t1oo"], "    project: 11\n")}` })));
    expect(key[0]).toMatchObject({ line: 7, message: expect.stringMatching(/unique/) });
  });

  it("refuses incomplete or malformed entries", () => {
    const problems = problemsOf(() =>
      loadPolicy(policyDir({ ndoo: "entries:\n  - project: slug-11\n    permissions: []\n    reason: ''\n    date: 2024-02-30\n" })),
    );
    const messages = problems.map((p) => `${p.line}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^2: the entry has no `approval`/),
        expect.stringMatching(/^2: `project` must be a project number/),
        expect.stringMatching(/^3: `permissions` must be a non-empty list/),
        expect.stringMatching(/^4: `reason` must be non-empty text/),
        expect.stringMatching(/^5: `date` must be a date written YYYY-MM-DD/),
      ]),
    );
  });

  it("refuses a missing list, a stray file, and an empty file", () => {
    const dir = policyDir({ "extra.yaml": EMPTY, ndoo: "# nothing\n" });
    rmSync(join(dir, "sqlrunner.yaml"));
    const messages = problemsOf(() => loadPolicy(dir)).map((p) => `${p.file.split(/[\\/]/).pop()}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^extra\.yaml: unknown file/),
        expect.stringMatching(/^sqlrunner\.yaml: missing/),
        expect.stringMatching(/^ndoo\.yaml: expected a mapping/),
      ]),
    );
  });
});

describe("checkDefinitionAgainstScope", () => {
  function definition() {
    const ds = createDataset();
    ds.definePopulation(tpp.clinicalEvents.existsForPatient());
    ds.addColumn("appointments", tpp.appointments.countForPatient());
    return ds.toQueryModel();
  }

  const policy = loadPolicy(policyDir(FIXTURE));

  it("refuses a definition reading a restricted table, naming the table and the permission", () => {
    const scope = analysisScope({ number: 10, status: "ongoing" }, policy);
    const result = checkDefinitionAgainstScope(definition(), scope);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.missing).toEqual([{ table: "appointments", permission: "appointments" }]);
    expect(result.message).toMatch(/table appointments requires the permission "appointments"/);
  });

  it("names every missing table at once", () => {
    const ds = createDataset();
    ds.definePopulation(tpp.clinicalEvents.existsForPatient());
    ds.addColumn("appointments", tpp.appointments.countForPatient());
    ds.addColumn("ukrr", tpp.ukrr.countForPatient());
    const result = checkDefinitionAgainstScope(ds.toQueryModel(), { permissions: [] });
    expect(result.ok ? [] : result.missing).toEqual([
      { table: "appointments", permission: "appointments" },
      { table: "ukrr", permission: "ukrr" },
    ]);
  });

  it("accepts it for a project granted the permission, and a definition of unrestricted tables for anyone", () => {
    expect(checkDefinitionAgainstScope(definition(), analysisScope({ number: 12, status: "ongoing" }, policy))).toEqual({ ok: true });
    const plain = createDataset();
    plain.definePopulation(tpp.clinicalEvents.existsForPatient());
    expect(checkDefinitionAgainstScope(plain.toQueryModel(), { permissions: [] })).toEqual({ ok: true });
  });
});
