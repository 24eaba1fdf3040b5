// The differencing ledger (src/sdc/ledger.ts): what it records, which
// subtractions between a new table and released ones it finds, the rounding
// rule, and `enclave sdc ledger add` then `enclave sdc check --ledger`.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkFiles, SdcInputError, type Results } from "../../src/sdc/check.js";
import { type TableDeclaration } from "../../src/sdc/declarations.js";
import { addToLedger, describeTable, findDifferencing, readLedger, LEDGER_FILE } from "../../src/sdc/ledger.js";
import { enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

afterAll(removeStudies);

/** A declaration of category columns `dims` and count columns `counts`, rounded to `rounding` (null: exact). */
function decl(file: string, population: string, dims: string[], counts: string[], rounding: number | null, total?: string): TableDeclaration {
  const columns: Record<string, TableDeclaration["columns"][string]> = {};
  for (const d of dims) columns[d] = { kind: "category" };
  for (const c of counts) columns[c] = { kind: "count", threshold: 7, rounding };
  return { version: 1, file, population, columns, ...(total !== undefined ? { totalRows: { column: dims[0]!, value: total } } : {}) };
}

interface Table {
  csv: string;
  population?: string;
  /** undefined: no declaration (columns guessed). */
  rounding?: number | null;
  total?: string;
}

function entry(name: string, t: Table) {
  const [head, first] = t.csv.split("\n");
  const header = head!.split(",");
  // The dimensions are the columns whose first value is not a count.
  const dims = header.filter((_, j) => !/^([0-9]+|\[REDACTED\])$/.test(first!.split(",")[j] ?? ""));
  const d = t.rounding === undefined ? undefined : decl(name, t.population ?? name, dims, header.filter((h) => !dims.includes(h)), t.rounding, t.total);
  return describeTable(name, Buffer.from(t.csv), d).entry;
}

/** [row, column, kind] of each cell of `now` flagged against `released`. */
function flagged(released: Table[], now: Table, options: { threshold?: number; base?: number } = {}) {
  const ledger = released.map((t, i) => entry(`old${i}.csv`, t));
  return findDifferencing(entry("new.csv", now), ledger, options).map((d) => [d.row, d.column, d.kind]);
}

const exact = (csv: string, population: string): Table => ({ csv, population, rounding: null, total: "Total" });

describe("findDifferencing", () => {
  const cases: { name: string; released: Table[]; now: Table; options?: { threshold?: number; base?: number }; want: (string | number)[][] }[] = [
    {
      name: "the same table over two populations differing by 3 patients is caught",
      released: [exact("region,count\nEast,120\nLondon,200\nTotal,320", "registered 2024-03-31")],
      now: exact("region,count\nEast,123\nLondon,200\nTotal,323", "registered 2024-04-30"),
      want: [
        [1, "count", "same"],
        [3, "count", "same"],
      ],
    },
    {
      name: "differing by 40 is not",
      released: [exact("region,count\nEast,120\nLondon,200\nTotal,320", "registered 2024-03-31")],
      now: exact("region,count\nEast,160\nLondon,200\nTotal,360", "registered 2025-03-31"),
      want: [],
    },
    {
      name: "an undeclared table released again with other numbers (base 1)",
      released: [{ csv: "region,count\nEast,120\nLondon,200" }],
      now: { csv: "region,count\nEast,120\nLondon,206" },
      options: { base: 1 },
      want: [[2, "count", "same"]],
    },
    {
      name: "a new margin minus a released subgroup isolating 4 is caught",
      released: [exact("region,sex,count\nEast,F,116\nEast,M,[REDACTED]\nLondon,F,100\nLondon,M,100", "registered 2024-03-31")],
      now: exact("region,count\nEast,120\nLondon,200", "registered 2024-03-31"),
      want: [[1, "count", "margin"]],
    },
    {
      name: "a released margin minus a new subgroup isolating 4 is caught",
      released: [exact("region,count\nEast,120\nLondon,200", "registered 2024-03-31")],
      now: exact("region,sex,count\nEast,F,116\nEast,M,[REDACTED]\nLondon,F,100\nLondon,M,100", "registered 2024-03-31"),
      want: [[1, "count", "subgroup"]],
    },
    {
      name: "a grand total minus a released total row of a subgroup",
      released: [exact("region,count\nEast,300\nLondon,[REDACTED]\nTotal,300", "p")],
      now: { csv: "sex,count\nF,150\nM,155\nTotal,305", rounding: null, population: "p", total: "Total" },
      want: [[3, "count", "same"]],
    },
    {
      name: "unrelated tables (other dimensions, another count column) are not compared",
      released: [exact("ethnicity,count\nA,120\nB,200", "p"), { csv: "region,n\nEast,121\nLondon,201", rounding: null, population: "p" }],
      now: exact("region,count\nEast,123\nLondon,203", "p"),
      want: [],
    },
    {
      name: "redacted cells are skipped, on either side",
      released: [exact("region,count\nEast,[REDACTED]\nLondon,200\nNorth,", "p")],
      now: exact("region,count\nEast,10\nLondon,[REDACTED]\nNorth,12", "q"),
      want: [],
    },
    {
      name: "the identical file (same sha256) is not compared with itself",
      released: [exact("region,sex,count\nEast,F,116\nEast,M,[REDACTED]\nEast,Total,120", "p")],
      now: exact("region,sex,count\nEast,F,116\nEast,M,[REDACTED]\nEast,Total,120", "p"),
      want: [],
    },
    {
      name: "a difference above the threshold is not caught; --threshold widens it",
      released: [exact("region,count\nEast,120", "p")],
      now: exact("region,count\nEast,129", "q"),
      options: { base: 1 },
      want: [],
    },
    {
      name: "... and with --threshold 10 it is",
      released: [exact("region,count\nEast,120", "p")],
      now: exact("region,count\nEast,129", "q"),
      options: { threshold: 10, base: 1 },
      want: [[1, "count", "same"]],
    },
    {
      name: "crosstab columns of the same name are compared cell by cell",
      released: [{ csv: "region,F,M\nEast,100,50\nLondon,200,90", rounding: null, population: "p" }],
      now: { csv: "region,F,M\nEast,100,52\nLondon,200,90", rounding: null, population: "q" },
      want: [[1, "M", "same"]],
    },
  ];
  it.each(cases)("$name", ({ released, now, options, want }) => {
    expect(flagged(released, now, options)).toEqual(want);
  });

  // Counts rounded to b stand for [p - floor(b/2), p + ceil(b/2) - 1]: a published
  // difference d stands for d - (b - 1) .. d + (b - 1); flagged when d != 0 and
  // that meets 1..threshold.
  const rounded: [number, number, number | null, number, boolean][] = [
    // released, new, declared rounding, base, flagged
    [120, 125, 5, 5, true], // 1..9
    [120, 130, 5, 5, true], // 6..14
    [120, 135, 5, 5, false], // 11..19
    [120, 120, 5, 5, false], // 0: no more than one rounded count tells
    [130, 120, 5, 5, true], // negative differences too
    [120, 130, 10, 5, true], // 1..19
    [120, 140, 10, 5, false], // 11..29
    [120, 125, null, 5, true], // undeclared multiples of --base are taken as rounded to it
    [120, 123, null, 5, true], // 123 is exact, 120 may be 118..122: 1..5
    [120, 131, null, 5, false], // 9..13
    [120, 128, null, 1, false], // exact: 8
  ];
  it.each(rounded)("rounded: %i then %i (rounding %s, base %i) flagged: %s", (a, b, rounding, base, want) => {
    const t = (n: number, p: string): Table => ({ csv: `region,count\nEast,${n}`, rounding, population: p });
    expect(flagged([t(a, "p")], t(b, "q"), { base }).length > 0).toBe(want);
  });

  it("names the released file, the population and the subtraction", () => {
    const [d] = findDifferencing(entry("new.csv", exact("region,count\nEast,123", "q")), [entry("output/old.csv", exact("region,count\nEast,120", "p"))], { base: 1 });
    expect(d).toMatchObject({ row: 1, column: "count", value: 123, releasedRow: 1, releasedValue: 120, kind: "same", range: [3, 3] });
    expect(d!.message).toMatch(/output\/old\.csv/);
    expect(d!.message).toContain('population "p"');
    expect(d!.message).toContain("123 − 120 = 3");
    expect(d!.message).toContain("may isolate 3 patients");
  });
});

describe("the ledger folder", () => {
  it("records each release as a line of DIR/ledger.jsonl, with its population, dimensions, categories and published counts", () => {
    const dir = study({
      "out/t.csv": "region,count\nEast,120\nLondon,[REDACTED]\nTotal,120\n",
      "out/t.csv.sdc.json": JSON.stringify(decl("t.csv", "registered 2024-03-31", ["region"], ["count"], 5, "Total")),
      "out/u.csv": "sex,n\nF,10\nM,15\n",
    });
    const ledger = path.join(dir, "ledger");
    expect(readLedger(ledger)).toEqual([]);
    addToLedger(ledger, path.join(dir, "out/t.csv"), undefined, new Date("2024-04-01T00:00:00Z"));
    addToLedger(ledger, path.join(dir, "out/u.csv"));
    expect(fs.readFileSync(path.join(ledger, LEDGER_FILE), "utf8").trim().split("\n")).toHaveLength(2);
    const [t, u] = readLedger(ledger);
    expect(t).toMatchObject({
      version: 1,
      path: path.join(dir, "out/t.csv"),
      releasedAt: "2024-04-01T00:00:00.000Z",
      population: "registered 2024-03-31",
      dimensions: ["region"],
      categories: { region: ["East", "London", "Total"] },
      totals: { region: ["Total"] },
      counts: [
        {
          column: "count",
          rounding: 5,
          cells: [
            { row: 1, categories: ["East"], value: 120 },
            { row: 2, categories: ["London"], value: null },
            { row: 3, categories: ["Total"], value: 120 },
          ],
        },
      ],
    });
    expect(t!.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Undeclared: the population is the path, the columns are guessed.
    expect(u).toMatchObject({ population: path.join(dir, "out/u.csv"), dimensions: ["sex"], counts: [{ column: "n", rounding: null }] });
  });

  it("refuses a ledger that is a file or has a line that is not an entry, and a table that is not CSV", () => {
    const dir = study({ "file": "x", "bad/ledger.jsonl": '{"version":1}\n', "worse/ledger.jsonl": "{\n", "t.png": "x" });
    expect(() => readLedger(path.join(dir, "file"))).toThrow(SdcInputError);
    expect(() => readLedger(path.join(dir, "bad"))).toThrow(/line 1: not a ledger entry/);
    expect(() => readLedger(path.join(dir, "worse"))).toThrow(/line 1: not valid JSON/);
    expect(() => addToLedger(path.join(dir, "l"), path.join(dir, "t.png"))).toThrow(/only CSV tables/);
  });

  it("checkFiles fails a table that differences a released one, and passes a safe one", async () => {
    const dir = study({
      "old.csv": "region,count\nEast,120\nLondon,200\n",
      "new.csv": "region,count\nEast,125\nLondon,200\n",
      "safe.csv": "region,count\nEast,150\nLondon,200\n",
      "empty": "",
    });
    const ledger = path.join(dir, "ledger");
    addToLedger(ledger, path.join(dir, "old.csv"));
    const r = await checkFiles([path.join(dir, "new.csv"), path.join(dir, "safe.csv"), path.join(dir, "old.csv")], { ledger });
    expect(r.files.map((f) => f.status)).toEqual(["fail", "pass", "pass"]);
    expect(r.files[0]!.failures).toEqual([{ rule: "differencing", row: 1, column: "count", value: "125", message: expect.stringContaining("old.csv") }]);
    // An absent ledger is empty; a file is not a ledger.
    expect((await checkFiles([path.join(dir, "new.csv")], { ledger: path.join(dir, "none") })).files[0]!.status).toBe("pass");
    await expect(checkFiles([path.join(dir, "new.csv")], { ledger: path.join(dir, "empty") })).rejects.toThrow(/not a folder/);
  });
});

describe("enclave sdc ledger add, then sdc check --ledger", () => {
  beforeAll(ensureBuilt, 120_000);

  it("exits 1 with a differencing failure in results.json, 0 for a safe new table, 2 for a ledger that is a file", async () => {
    const cwd = study({
      "output/by_region.csv": "region,count\nEast,120\nLondon,200\nTotal,320\n",
      "output/by_region.csv.sdc.json": JSON.stringify(decl("by_region.csv", "registered 2024-03-31", ["region"], ["count"], 5, "Total")),
      "output/by_region_sex.csv": "region,sex,count\nEast,F,115\nEast,M,[REDACTED]\nLondon,F,100\nLondon,M,100\n",
      "output/safe.csv": "region,count\nEast,150\nLondon,250\nTotal,400\n",
      "notes.txt": "hello",
    });
    const add = await enclave(["sdc", "ledger", "add", "output/by_region.csv", "notes.txt", "--ledger", "ledger"], { cwd });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain('output/by_region.csv: recorded (population "registered 2024-03-31"');
    expect(add.stdout).toContain("notes.txt: skipped");
    expect(fs.existsSync(path.join(cwd, "ledger", LEDGER_FILE))).toBe(true);

    const r = await enclave(["sdc", "check", "output/by_region_sex.csv", "--ledger", "ledger", "--output", "results.json"], { cwd });
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(fs.readFileSync(path.join(cwd, "results.json"), "utf8")) as Results;
    expect(results.files[0]).toMatchObject({
      path: "output/by_region_sex.csv",
      status: "fail",
      failures: [{ rule: "differencing", row: 1, column: "count", value: "115", message: expect.stringMatching(/output\/by_region\.csv.*120 − 115 = 5/) }],
    });

    const safe = await enclave(["sdc", "check", "output/safe.csv", "--ledger", "ledger"], { cwd });
    expect(safe.code, safe.stdout + safe.stderr).toBe(0);

    const notDir = await enclave(["sdc", "check", "output/safe.csv", "--ledger", "notes.txt"], { cwd });
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toContain("not a folder");
  });
});
