// `enclave sdc check` against ../shared/spec/sdc-check.md: a corpus of safe and
// disclosive files, each with its expected status and exact failing cells
// (tests/sdc/corpus/expected.json), then the command line: exit statuses,
// results.json, --threshold/--base, the report, declarations.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkFiles, SdcInputError, type Results } from "../../src/sdc/check.js";
import { enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

const CORPUS = path.join(path.dirname(fileURLToPath(import.meta.url)), "corpus");

interface Expected {
  status: "pass" | "fail" | "review";
  disclosive: boolean;
  failures: [string, number | null, string | null][];
}

const expected = JSON.parse(fs.readFileSync(path.join(CORPUS, "expected.json"), "utf8")) as Record<string, Expected>;
const corpusFiles = fs
  .readdirSync(CORPUS)
  .filter((f) => f !== "expected.json")
  .sort();

const key = (f: [string, number | null, string | null]) => JSON.stringify(f);

describe("the corpus", () => {
  let results: Results;
  beforeAll(async () => {
    results = await checkFiles(corpusFiles.map((f) => path.join(CORPUS, f)));
  });

  it("has an expectation for every file, and at least 60 tables", () => {
    expect(Object.keys(expected).sort()).toEqual(corpusFiles);
    expect(corpusFiles.filter((f) => f.endsWith(".csv")).length).toBeGreaterThanOrEqual(60);
  });

  it.each(corpusFiles)("%s", (name) => {
    const r = results.files.find((f) => path.basename(f.path) === name)!;
    const want = expected[name]!;
    const got = r.failures.map((f) => [f.rule, f.row, f.column] as [string, number | null, string | null]);
    expect({ status: r.status, failures: got.map(key).sort() }).toEqual({ status: want.status, failures: want.failures.map(key).sort() });
  });

  it("passes no disclosive file", () => {
    const leaks = results.files.filter((f) => expected[path.basename(f.path)]!.disclosive && f.status === "pass");
    expect(leaks.map((f) => f.path)).toEqual([]);
  });

  it("gives each failure the value of its cell, a message, and null row and column for whole-file rules", () => {
    for (const f of results.files) {
      for (const x of f.failures) {
        expect(x.message).not.toBe("");
        if (x.row === null) expect(x.value).toBeNull();
        else expect(typeof x.value).toBe("string");
        if (x.rule === "file_type" || x.rule === "no_underlying_data") expect([x.row, x.column]).toEqual([null, null]);
      }
    }
    const small = results.files.find((f) => path.basename(f.path) === "small_count_basic.csv")!;
    expect(small.failures[0]).toMatchObject({ rule: "small_count", row: 2, column: "count", value: "5" });
  });
});

describe("checkFiles", () => {
  const file = (name: string) => path.join(CORPUS, name);

  it("applies --threshold and --base", async () => {
    const r = await checkFiles([file("safe_freq.csv"), file("safe_rounded_10.csv")], { threshold: 9, base: 10 });
    expect(r.files.map((f) => f.failures.map((x) => [x.rule, x.row, x.column]))).toEqual([[["unrounded", 2, "count"]], []]);
    const r2 = await checkFiles([file("small_value_3.csv")], { threshold: 2, base: 1 });
    expect(r2.files[0]!.status).toBe("pass");
  });

  it("lists failures in a stable order: whole-file first, then by row, column and rule", async () => {
    const r = await checkFiles([file("patient_level_counts.csv")]);
    expect(r.files[0]!.failures.map((x) => x.rule)).toEqual(["patient_level", "small_count", "unrounded"]);
  });

  it("refuses a missing file, a bad CSV, a ledger that is a file and invalid declarations", async () => {
    const dir = study({
      "bad.csv": 'a,b\n"x,1\n',
      "t.csv": "sex,count\nF,10\n",
      "decl.json": JSON.stringify({ version: 1, file: "t.csv", columns: { sex: { kind: "category" }, count: { kind: "count", threshold: "7", rounding: 5 } } }),
      "decl2.json": JSON.stringify([{ version: 1, file: "t.csv", columns: { sex: { kind: "colour" } } }]),
      "decl3.json": JSON.stringify({ version: 1, file: "t.csv", columns: { m: { kind: "statistic", countColumn: "nope" } } }),
    });
    await expect(checkFiles([path.join(dir, "missing.csv")])).rejects.toThrow(/missing\.csv: there is no such file/);
    await expect(checkFiles([path.join(dir, "bad.csv")])).rejects.toThrow(SdcInputError);
    await expect(checkFiles([path.join(dir, "t.csv")], { ledger: path.join(dir, "t.csv") })).rejects.toThrow(/not a folder/);
    expect((await checkFiles([path.join(dir, "t.csv")], { ledger: path.join(dir, "no-ledger-yet") })).files[0]!.status).toBe("pass");
    await expect(checkFiles([path.join(dir, "t.csv")], { declarations: path.join(dir, "decl.json") })).rejects.toThrow(/decl\.json: columns\.count\.threshold must be/);
    await expect(checkFiles([path.join(dir, "t.csv")], { declarations: path.join(dir, "decl2.json") })).rejects.toThrow(/decl2\.json: \[0\]: columns\.sex\.kind must be/);
    await expect(checkFiles([path.join(dir, "t.csv")], { declarations: path.join(dir, "decl3.json") })).rejects.toThrow(/columns\.m\.countColumn/);
  });

  it("reads --declarations (one or a list), matching a declaration's file relative to it", async () => {
    const dir = study({
      "out/t.csv": "sex,count\nF,120\nM,15\n",
      "decls.json": JSON.stringify([{ version: 1, file: "out/t.csv", columns: { sex: { kind: "category" }, count: { kind: "count", threshold: 7, rounding: 10 } } }]),
    });
    const r = await checkFiles([path.join(dir, "out/t.csv")], { declarations: path.join(dir, "decls.json") });
    expect(r.files[0]!.failures.map((x) => [x.rule, x.row, x.column])).toEqual([["declaration_mismatch", 2, "count"]]);
  });

  afterAll(removeStudies);
});

describe("enclave sdc check", () => {
  beforeAll(ensureBuilt, 120_000);
  afterAll(removeStudies);

  const files = {
    "output/safe.csv": "sex,count\nfemale,120\nmale,95\n",
    "output/small.csv": "sex,count\nfemale,120\nmale,4\n",
    "output/plot.png": "fake",
  };

  it("exits 0 when every file passes", async () => {
    const cwd = study(files);
    const r = await enclave(["sdc", "check", "output/safe.csv"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("output/safe.csv: pass");
  });

  it("exits 1 when a file fails or needs review, with a readable report", async () => {
    const cwd = study(files);
    const r = await enclave(["sdc", "check", "output/safe.csv", "output/small.csv"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("output/small.csv: fail");
    expect(r.stdout).toMatch(/row 2, column "count": small_count: 4 is a count of 1 to 7/);
    expect(r.stdout).toMatch(/row 2, column "count": unrounded: /);
    const review = await enclave(["sdc", "check", "output/plot.png"], { cwd });
    expect(review.code).toBe(1);
    expect(review.stdout).toMatch(/output\/plot\.png: review\n {2}file: no_underlying_data: /);
  });

  it("exits 2 for a missing file, a bad option or a --ledger that is not a folder", async () => {
    const cwd = study(files);
    const missing = await enclave(["sdc", "check", "output/safe.csv", "output/nope.csv"], { cwd });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read output/nope.csv");
    expect((await enclave(["sdc", "check", "output/safe.csv", "--threshold", "x"], { cwd })).code).toBe(2);
    expect((await enclave(["sdc", "check"], { cwd })).code).toBe(2);
    expect((await enclave(["sdc", "check", "output/safe.csv", "--ledger", "output/small.csv"], { cwd })).code).toBe(2);
    expect((await enclave(["sdc", "check", "output/safe.csv", "--ledger", "ledger"], { cwd })).code).toBe(0);
  });

  it("writes results.json with --output: the spec's shape and each file's sha256", async () => {
    const cwd = study(files);
    const r = await enclave(["sdc", "check", "output/safe.csv", "output/small.csv", "output/plot.png", "--output", "checks/results.json"], { cwd });
    expect(r.code).toBe(1);
    const results = JSON.parse(fs.readFileSync(path.join(cwd, "checks/results.json"), "utf8")) as Results;
    const sha = (f: string) => createHash("sha256").update(fs.readFileSync(path.join(cwd, f))).digest("hex");
    expect(results).toEqual({
      version: 1,
      files: [
        { path: "output/safe.csv", sha256: sha("output/safe.csv"), status: "pass", failures: [] },
        {
          path: "output/small.csv",
          sha256: sha("output/small.csv"),
          status: "fail",
          failures: [
            { rule: "small_count", row: 2, column: "count", value: "4", message: expect.any(String) },
            { rule: "unrounded", row: 2, column: "count", value: "4", message: expect.any(String) },
          ],
        },
        {
          path: "output/plot.png",
          sha256: sha("output/plot.png"),
          status: "review",
          failures: [{ rule: "no_underlying_data", row: null, column: null, value: null, message: expect.any(String) }],
        },
      ],
    });
  });

  it("takes --threshold and --base", async () => {
    const cwd = study({ "t.csv": "group,count\nA,20\nB,10\n" });
    expect((await enclave(["sdc", "check", "t.csv"], { cwd })).code).toBe(0);
    const strict = await enclave(["sdc", "check", "t.csv", "--threshold", "10", "--base", "20"], { cwd });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/row 2, column "count": small_count: 10 is a count of 1 to 10/);
    expect(strict.stdout).toMatch(/row 2, column "count": unrounded: 10 is not a multiple of 20/);
  });

  it("reads a declaration beside the table, and exits 2 naming the key of an invalid one", async () => {
    const cwd = study({
      "t.csv": "sex,count\nF,120\nM,15\n",
      "t.csv.sdc.json": JSON.stringify({ version: 1, file: "t.csv", columns: { sex: { kind: "category" }, count: { kind: "count", threshold: 7, rounding: 10 } } }),
      "u.csv": "sex,count\nF,120\n",
      "u.csv.sdc.json": JSON.stringify({ version: 2, file: "u.csv", columns: {} }),
    });
    const r = await enclave(["sdc", "check", "t.csv"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/row 2, column "count": declaration_mismatch: 15 is not a multiple of 10/);
    const bad = await enclave(["sdc", "check", "u.csv"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("u.csv.sdc.json: version must be 1");
  });
});
