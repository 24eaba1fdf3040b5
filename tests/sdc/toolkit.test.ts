// enclave/sdc's researchers' toolkit: hand-worked examples of each function,
// then properties over random tables: (1) what is published is safe and the
// totals add up, (2) no suppressed cell can be solved for from the published
// cells and the margins, (3) the written declaration holds of the written
// file; and, where the checker exists, that it passes the builders' outputs.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  REDACTED,
  crosstab,
  declarationProblems,
  frequencyTable,
  isSmallCount,
  roundMidpoint6,
  roundToNearest,
  safeCount,
  summaryByGroup,
  suppressOneWay,
  suppressTwoWay,
  toCSV,
  writeSafeTable,
  type CellStatus,
  type SafeTable,
  type TableDeclaration,
} from "../../src/sdc/index.js";

const RUNS = Number(process.env.ENCLAVE_PROPERTY_RUNS ?? 200);
const folders: string[] = [];
afterAll(() => {
  for (const f of folders) fs.rmSync(f, { recursive: true, force: true });
});
function tmpFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-sdc-"));
  folders.push(dir);
  return dir;
}

/** Rows with a weight column `n`, one per cell, for the builders. */
function weighted(counts: readonly (readonly number[])[]): { a: string; b: string; n: number }[] {
  return counts.flatMap((r, i) => r.map((n, j) => ({ a: `r${i}`, b: `c${j}`, n })));
}

function repeat<T>(n: number, row: T): T[] {
  return Array.from({ length: n }, () => row);
}

describe("cells", () => {
  it("rounds to a base, ties to the even multiple", () => {
    expect([0, 2, 3, 12, 13, 17, 18].map((n) => roundToNearest(n))).toEqual([0, 0, 5, 10, 15, 15, 20]);
  });

  it("rounds by midpoint-6", () => {
    expect([0, 1, 6, 7, 12, 13, 18, 19].map(roundMidpoint6)).toEqual([0, 3, 3, 9, 9, 15, 15, 21]);
    expect(() => roundMidpoint6(-1)).toThrow(/0 or more/);
    expect(() => roundMidpoint6(2.5)).toThrow(/whole numbers/);
  });

  it("suppresses 1 to the threshold, keeps 0, and rounds the rest", () => {
    expect([0, 1, 7, 8, 12, 13].map((n) => safeCount(n))).toEqual([0, null, null, 10, 10, 15]);
    expect([0, 10, 11].map((n) => safeCount(n, { threshold: 10, rounding: null }))).toEqual([0, null, 11]);
    expect(safeCount(0, { threshold: 0 })).toBe(0);
    expect(safeCount(1, { threshold: 0, rounding: 1 })).toBe(1);
  });

  it("suppresses a count that would be published as a small one", () => {
    // 11 > 10, but rounds to 10, which the checker reads as a small count.
    expect(isSmallCount(11, { threshold: 10, rounding: 10 })).toBe(true);
    expect(isSmallCount(16, { threshold: 10, rounding: 10 })).toBe(false);
    // 2 rounds to 0, and a published 0 is allowed: but 2 is small anyway.
    expect(isSmallCount(2, { threshold: 0, rounding: 5 })).toBe(false);
    expect(safeCount(2, { threshold: 0, rounding: 5 })).toBe(0);
  });

  it("rejects bad controls", () => {
    expect(() => safeCount(3, { threshold: -1 })).toThrow(/threshold/);
    expect(() => safeCount(3, { rounding: 0 })).toThrow(/rounding/);
    expect(() => safeCount(-3)).toThrow(/0 or more/);
  });
});

describe("secondary suppression", () => {
  it("one-way: a lone suppressed cell takes the smallest non-zero other with it", () => {
    expect(suppressOneWay([3, 40, 12, 0, 25])).toEqual(["primary", "published", "secondary", "published", "published"]);
    expect(suppressOneWay([3, 0, 0])).toEqual(["primary", "secondary", "published"]);
    expect(suppressOneWay([3, 4, 40])).toEqual(["primary", "primary", "published"]);
    expect(suppressOneWay([30, 40])).toEqual(["published", "published"]);
    // One category: nothing else to hide.
    expect(suppressOneWay([3])).toEqual(["primary"]);
  });

  it("two-way: every row and column with a suppressed cell gets a second, closing a cycle", () => {
    //        p   q   r
    //   x    3  40  22
    //   y   30  12  50
    //   z   15   9   5
    // (x,p) and (z,r) are primary. Row x's cheapest partner in a column with a
    // lone suppressed cell is (x,r) (22, column r holds (z,r)); row z's is (z,p).
    expect(
      suppressTwoWay([
        [3, 40, 22],
        [30, 12, 50],
        [15, 9, 5],
      ]),
    ).toEqual([
      ["primary", "published", "secondary"],
      ["published", "published", "published"],
      ["secondary", "published", "primary"],
    ]);
  });

  it("two-way: breaks a bridge between two closed blocks", () => {
    // After the row and column rule, (0,0),(0,1),(1,0),(1,1) would be one cycle
    // and (2,2),(2,3),(3,2),(3,3) another; a primary at (0,2) with its row and
    // column already holding two would join them as a bridge.
    const counts = [
      [2, 2, 3, 50],
      [2, 2, 60, 70],
      [80, 90, 2, 2],
      [85, 95, 2, 2],
    ];
    const s = suppressTwoWay(counts);
    expect(determinedCells(counts, s, true)).toEqual([]);
    // The fix is one extra cell: 8 primaries (all but (0,2) are 2s), plus one.
    expect(s.flat().filter((x) => x === "secondary")).toHaveLength(1);
  });

  it("one row or one column is a one-way table", () => {
    expect(suppressTwoWay([[3, 40, 12]])).toEqual([["primary", "published", "secondary"]]);
    expect(suppressTwoWay([[3], [40], [12]])).toEqual([["primary"], ["published"], ["secondary"]]);
  });
});

describe("builders", () => {
  const regions = [
    ...repeat(120, { region: "East" }),
    ...repeat(5, { region: "London" }),
    ...repeat(23, { region: "North East" }),
    ...repeat(85, { region: "North West" }),
  ];

  it("frequencyTable: suppresses, rounds, and totals the published counts", () => {
    const t = frequencyTable(regions, "region", { population: "patients" });
    expect(toCSV(t)).toBe("region,count\nEast,120\nLondon,[REDACTED]\nNorth East,[REDACTED]\nNorth West,85\nTotal,205\n");
    expect(t.declaration).toEqual({
      version: 1,
      population: "patients",
      columns: { region: { kind: "category" }, count: { kind: "count", threshold: 7, rounding: 5 } },
      totalRows: { column: "region", value: "Total" },
    });
    expect(t.status.map((s) => s.count)).toEqual(["published", "primary", "secondary", "published"]);
  });

  it("frequencyTable: options (no total, no secondary, another threshold, base and label)", () => {
    const t = frequencyTable(regions, "region", { total: false, secondary: false, threshold: 10, rounding: 10, countColumn: "n" });
    expect(t.rows).toEqual([
      { region: "East", n: 120 },
      { region: "London", n: null },
      { region: "North East", n: 20 },
      { region: "North West", n: 80 },
    ]);
    expect(() => frequencyTable([{ region: "Total" }], "region")).toThrow(/category "Total"/);
    expect(frequencyTable([{ region: null }, ...repeat(9, { region: "A" })], "region").rows.map((r) => r.region)).toEqual(["(missing)", "A", "Total"]);
  });

  it("crosstab: wide, with margins summing the published cells", () => {
    const rows = weighted([
      [3, 40, 22],
      [30, 12, 50],
      [15, 9, 5],
    ]);
    const t = crosstab(rows, "a", "b", { weight: "n" });
    expect(toCSV(t)).toBe(
      ["a,c0,c1,c2,Total", "r0,[REDACTED],40,[REDACTED],40", "r1,30,10,50,90", "r2,[REDACTED],10,[REDACTED],10", "Total,30,60,50,140", ""].join("\n"),
    );
    expect(t.declaration.columns.Total).toEqual({ kind: "count", threshold: 7, rounding: 5, totalOf: ["c0", "c1", "c2"] });
    expect(t.declaration.totalRows).toEqual({ column: "a", value: "Total" });
    // Every combination is a cell, 0 where none.
    const sparse = crosstab([...repeat(20, { a: "x", b: "p" }), ...repeat(20, { a: "y", b: "q" })], "a", "b", { margins: false });
    expect(sparse.rows).toEqual([
      { a: "x", p: 20, q: 0 },
      { a: "y", p: 0, q: 20 },
    ]);
  });

  it("crosstab: a total whose cells are all suppressed is suppressed", () => {
    // Row r0 is all primary; then each column's lone suppressed cell takes
    // the smallest other in it (30, 40): with the true column totals known,
    // 3 would otherwise be the column total minus 30 and 50.
    const t = crosstab(weighted([[3, 4], [30, 40], [50, 60]]), "a", "b", { weight: "n" });
    expect(t.rows).toEqual([
      { a: "r0", c0: null, c1: null, Total: null },
      { a: "r1", c0: null, c1: null, Total: null },
      { a: "r2", c0: 50, c1: 60, Total: 110 },
      { a: "Total", c0: 50, c1: 60, Total: 110 },
    ]);
  });

  it("summaryByGroup: statistics redacted with their count", () => {
    const rows = [
      ...[20, 22, 24, 26, 28, 30, 32, 34, 36, 38].map((bmi) => ({ sex: "f", bmi })),
      ...[25, 27, 29].map((bmi) => ({ sex: "m", bmi })),
      ...[30, 31, 32, 33, 34, 35, 36, 37, 38].map((bmi) => ({ sex: "x", bmi })),
      { sex: "x", bmi: null },
    ];
    const t = summaryByGroup(rows, "sex", "bmi", { stats: ["mean", "median", "sd", "q1"] });
    expect(t.columns).toEqual(["sex", "count", "bmi_mean", "bmi_median", "bmi_sd", "bmi_q1"]);
    expect(t.rows).toEqual([
      // 10 values: mean 29, median 29, sd sqrt(330/9) = 6.06, q1 at 2.25 → 24.5.
      { sex: "f", count: 10, bmi_mean: 29, bmi_median: 29, bmi_sd: 6.06, bmi_q1: 24.5 },
      { sex: "m", count: null, bmi_mean: null, bmi_median: null, bmi_sd: null, bmi_q1: null },
      // 9 values (the null is left out): the smallest other count, so secondary.
      { sex: "x", count: null, bmi_mean: null, bmi_median: null, bmi_sd: null, bmi_q1: null },
    ]);
    expect(t.declaration.columns.bmi_mean).toEqual({ kind: "statistic", countColumn: "count" });
    expect(() => summaryByGroup(rows, "sex", "bmi", { stats: ["max" as "mean"] })).toThrow(/unknown statistic "max"/);
    expect(() => summaryByGroup([{ sex: "f", bmi: "x" }], "sex", "bmi")).toThrow(/not a number/);
  });

  it("writeSafeTable writes the CSV and the declaration beside it, and refuses an unsafe table", () => {
    const dir = tmpFolder();
    const file = path.join(dir, "out", "by_region.csv");
    const written = writeSafeTable(file, frequencyTable(regions, "region"));
    expect(written.declarationFile).toBe(file + ".sdc.json");
    expect(fs.readFileSync(file, "utf8")).toContain("London,[REDACTED]\n");
    const decl = JSON.parse(fs.readFileSync(written.declarationFile, "utf8")) as TableDeclaration;
    expect(decl.file).toBe("by_region.csv");
    expect(decl.columns.count).toEqual({ kind: "count", threshold: 7, rounding: 5 });

    const count = { kind: "count", threshold: 7, rounding: 5 } as const;
    expect(() => writeSafeTable(path.join(dir, "bad.csv"), { rows: [{ g: "a", n: 3 }] }, { version: 1, columns: { g: { kind: "category" }, n: count } })).toThrow(
      /row 1, column "n": 3 is a small count/,
    );
    expect(() => writeSafeTable(path.join(dir, "bad.csv"), { rows: [{ g: "a", n: 12 }] }, { version: 1, columns: { g: { kind: "category" }, n: count } })).toThrow(
      /not a multiple of 5/,
    );
    expect(() => writeSafeTable(path.join(dir, "bad.csv"), { rows: [{ g: "a", n: 10 }] })).toThrow(/needs a declaration/);
    expect(fs.existsSync(path.join(dir, "bad.csv"))).toBe(false);
    writeSafeTable(path.join(dir, "mine.csv"), { rows: [{ g: "a, b", n: null }] }, { version: 1, columns: { g: { kind: "category" }, n: count } });
    expect(fs.readFileSync(path.join(dir, "mine.csv"), "utf8")).toBe('g,n\n"a, b",[REDACTED]\n');
  });

  it("builders write when given a file", () => {
    const dir = tmpFolder();
    crosstab(weighted([[10, 20], [30, 40]]), "a", "b", { weight: "n", file: path.join(dir, "x.csv") });
    expect(fs.readFileSync(path.join(dir, "x.csv"), "utf8")).toBe("a,c0,c1,Total\nr0,10,20,30\nr1,30,40,70\nTotal,40,60,100\n");
    expect(fs.existsSync(path.join(dir, "x.csv.sdc.json"))).toBe(true);
  });
});

// --- Linear algebra: is a suppressed cell determined? -----------------------

/** The rank of a matrix of integers (exact: fraction-free elimination over BigInt). */
function rank(matrix: readonly (readonly number[])[]): number {
  const a = matrix.map((r) => r.map(BigInt));
  const cols = a[0]?.length ?? 0;
  let r = 0;
  for (let c = 0; c < cols && r < a.length; c++) {
    const p = a.findIndex((row, i) => i >= r && row[c] !== 0n);
    if (p < 0) continue;
    [a[r], a[p]] = [a[p]!, a[r]!];
    const pivot = a[r]!;
    for (let i = 0; i < a.length; i++) {
      if (i === r || a[i]![c] === 0n) continue;
      const f = a[i]![c]!;
      a[i] = a[i]!.map((x, k) => x * pivot[c]! - pivot[k]! * f);
    }
    r++;
  }
  return r;
}

/**
 * The suppressed cells whose value is fixed by the equations an attacker has:
 * with `margins`, each row's, column's and the grand total's true value minus
 * the published cells (taken as exact) gives the sum of its suppressed cells.
 * Without, the published totals are sums of published cells only and say
 * nothing about the suppressed ones. A cell is determined when its unit vector
 * lies in the row space of those equations.
 */
function determinedCells(counts: readonly (readonly number[])[], status: readonly (readonly CellStatus[])[], margins: boolean): [number, number][] {
  const unknowns: [number, number][] = [];
  status.forEach((r, i) => r.forEach((s, j) => s !== "published" && unknowns.push([i, j])));
  if (!margins || unknowns.length === 0) return [];
  const m = counts.length;
  const n = counts[0]!.length;
  const eqs: number[][] = [];
  for (let i = 0; i < m; i++) eqs.push(unknowns.map(([a]) => (a === i ? 1 : 0)));
  for (let j = 0; j < n; j++) eqs.push(unknowns.map(([, b]) => (b === j ? 1 : 0)));
  eqs.push(unknowns.map(() => 1));
  const base = rank(eqs);
  return unknowns.filter((_, k) => rank([...eqs, unknowns.map((__, x) => (x === k ? 1 : 0))]) === base);
}

// Counts with many small ones, so that suppression has work to do.
const count = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 400 }));
const controls = fc.record({ threshold: fc.integer({ min: 0, max: 12 }), rounding: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constant(null)) });
const matrix = fc
  .tuple(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 6 }))
  .chain(([m, n]) => fc.array(fc.array(count, { minLength: n, maxLength: n }), { minLength: m, maxLength: m }));

function published(v: unknown): number | null {
  return v === null || v === REDACTED ? null : Number(v);
}

function expectSafeCells(values: readonly (number | null)[], c: { threshold: number; rounding: number | null }): void {
  for (const v of values) {
    if (v === null) continue;
    expect(v === 0 || v > c.threshold, `${v} with threshold ${c.threshold}`).toBe(true);
    if (c.rounding !== null) expect(v % c.rounding, `${v} rounded to ${c.rounding}`).toBe(0);
  }
}

function expectTotal(total: number | null, parts: readonly (number | null)[]): void {
  if (parts.length > 0 && parts.every((p) => p === null)) expect(total).toBeNull();
  else expect(total).toBe(parts.reduce<number>((s, p) => s + (p ?? 0), 0));
}

describe("properties", () => {
  it("(1) published cells are 0 or above the threshold and multiples of the base; totals are the sums of the published cells", () => {
    fc.assert(
      fc.property(fc.array(count, { minLength: 1, maxLength: 8 }), controls, (counts, c) => {
        const t = frequencyTable(
          counts.map((n, i) => ({ g: `g${i}`, n })),
          "g",
          { ...c, weight: "n" },
        );
        const cells = t.rows.slice(0, -1).map((r) => published(r.count));
        expectSafeCells(cells, c);
        expectTotal(published(t.rows.at(-1)!.count), cells);
        if (counts.length > 1) expect(t.status.filter((s) => s.count !== "published").length).not.toBe(1);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(matrix, controls, (counts, c) => {
        const t = crosstab(weighted(counts), "a", "b", { ...c, weight: "n" });
        const cols = counts[0]!.map((_, j) => `c${j}`);
        const body = t.rows.slice(0, -1);
        for (const r of t.rows) expectSafeCells([...cols, "Total"].map((k) => published(r[k])), c);
        for (const r of body) expectTotal(published(r.Total), cols.map((k) => published(r[k])));
        const totals = t.rows.at(-1)!;
        for (const k of [...cols, "Total"]) expectTotal(published(totals[k]), body.map((r) => published(r[k])));
      }),
      { numRuns: RUNS },
    );
  });

  it("(2) no suppressed cell of a two-way table can be solved for, even from true margins", () => {
    fc.assert(
      fc.property(matrix, controls, (counts, c) => {
        const s = suppressTwoWay(counts, c);
        // Every small count is suppressed.
        counts.forEach((r, i) => r.forEach((x, j) => x > 0 && x <= c.threshold && expect(s[i]![j]).not.toBe("published")));
        // The stronger case: the true row, column and grand totals are known, and the published cells exactly.
        expect(determinedCells(counts, s, true)).toEqual([]);
        // The published case: the margins the builder writes involve only published cells.
        const t = crosstab(weighted(counts), "a", "b", { ...c, weight: "n" });
        expect(determinedCells(counts, s, false)).toEqual([]);
        expect(t.status.map((r) => Object.values(r))).toEqual(s);
        // The row-and-column rule holds too.
        for (const line of [...s, ...s[0]!.map((_, j) => s.map((r) => r[j]!))]) expect(line.filter((x) => x !== "published").length).not.toBe(1);
      }),
      { numRuns: RUNS },
    );
  });

  it("(3) the written declaration holds of the written file", () => {
    const dir = tmpFolder();
    let k = 0;
    const groups = fc.array(fc.record({ g: fc.constantFrom("a", "b", "c", "d", "e"), h: fc.constantFrom("x", "y", "z"), v: fc.option(fc.integer({ min: 0, max: 100 })) }), {
      maxLength: 150,
    });
    fc.assert(
      fc.property(groups, controls, (rows, c) => {
        const tables: SafeTable[] = [
          frequencyTable(rows, "g", c),
          crosstab(rows, "g", "h", c),
          summaryByGroup(rows, "g", "v", { ...c, stats: ["mean", "median", "sd"] }),
        ];
        for (const t of tables) {
          const file = path.join(dir, `t${k++}.csv`);
          writeSafeTable(file, t);
          const decl = JSON.parse(fs.readFileSync(file + ".sdc.json", "utf8")) as TableDeclaration;
          expect(decl.file).toBe(path.basename(file));
          const [header, ...body] = parseCSV(fs.readFileSync(file, "utf8"));
          expect(Object.keys(decl.columns).sort()).toEqual([...header!].sort());
          const at = (r: string[], col: string): string => r[header!.indexOf(col)]!;
          for (const [col, d] of Object.entries(decl.columns)) {
            for (const r of body) {
              const v = at(r, col);
              if (d.kind === "count" && v !== REDACTED) {
                expect(v).toMatch(/^\d+$/);
                expectSafeCells([Number(v)], d);
                if (d.totalOf) expectTotal(Number(v), d.totalOf.map((p) => published(at(r, p))));
              }
              if (d.kind === "statistic" && at(r, d.countColumn) === REDACTED) expect(v).toBe(REDACTED);
            }
            if (decl.totalRows && d.kind === "count") {
              const isTotal = (r: string[]): boolean => at(r, decl.totalRows!.column) === decl.totalRows!.value;
              for (const tr of body.filter(isTotal)) {
                const v = at(tr, col);
                expectTotal(v === REDACTED ? null : Number(v), body.filter((r) => !isTotal(r)).map((r) => published(at(r, col))));
              }
            }
          }
          expect(declarationProblems({ columns: header!, rows: body.map((r) => Object.fromEntries(header!.map((h, x) => [h, r[x]!]))) }, decl)).toEqual([]);
        }
      }),
      { numRuns: Math.min(RUNS, 60) },
    );
  });
});

/** RFC 4180, enough for what toCSV writes. */
function parseCSV(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === "," || ch === "\n") {
      row.push(field);
      field = "";
      if (ch === "\n") {
        rows.push(row);
        row = [];
      }
    } else field += ch;
  }
  return rows;
}

const CHECKER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/sdc/check.ts");
const HAVE_CHECKER = fs.existsSync(CHECKER);

describe("the checker", () => {
  it.skipIf(!HAVE_CHECKER)(
    HAVE_CHECKER ? "passes the builders' outputs" : "passes the builders' outputs (skipped: src/sdc/check.ts does not exist yet)",
    async () => {
      const { checkFiles } = (await import("../../src/sdc/check.js")) as {
        checkFiles: (files: readonly string[], options?: { threshold?: number; base?: number }) => Promise<{ files: { path: string; status: string; failures: unknown[] }[] }>;
      };
      const dir = tmpFolder();
      const rows = fc.sample(fc.record({ g: fc.constantFrom("a", "b", "c", "d"), h: fc.constantFrom("x", "y", "z"), v: fc.option(fc.integer({ min: 0, max: 100 })) }), {
        numRuns: 400,
        seed: 42,
      });
      const few = rows.slice(0, 40);
      const files: string[] = [];
      for (const [i, rs] of [rows, few].entries()) {
        for (const [name, t] of Object.entries({ freq: frequencyTable(rs, "g"), cross: crosstab(rs, "g", "h"), summary: summaryByGroup(rs, "g", "v", { stats: ["mean", "median"] }) })) {
          const file = path.join(dir, `${name}${i}.csv`);
          writeSafeTable(file, t);
          files.push(file);
        }
      }
      const results = await checkFiles(files);
      for (const f of results.files) expect({ path: f.path, status: f.status, failures: f.failures }).toEqual({ path: f.path, status: "pass", failures: [] });
    },
  );
});
