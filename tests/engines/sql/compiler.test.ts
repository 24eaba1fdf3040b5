import { describe, expect, it } from "vitest";
import { Q, makeDataset, type Series } from "../../../src/querymodel/index.js";
import { DuckdbDialect, PostgresDialect, SqliteDialect, compileDataset, type Dialect } from "../../../src/engines/sql/index.js";

const DIALECTS: Dialect[] = [new SqliteDialect(), new DuckdbDialect(), new PostgresDialect()];
const e = Q.selectTable("e", { i1: "int", d1: "date", s1: "str", c1: "snomedct" });
const p = Q.selectPatientTable("p", { i1: "int", d1: "date", b1: "bool" });
const pop = Q.aggregate("Exists", e);
const sqlOf = (d: Dialect, s: Series) => {
  const q = compileDataset(d, makeDataset(pop, [{ name: "v", series: s }]));
  return [...q.setup, q.select].join(";\n");
};

// Each level wraps the previous one in a when/minimumOf/whenNullThen/date shift:
// the SQL must grow by a bounded amount per level, never multiply.
function nested(depth: number): Series {
  let x: Series = Q.column(p, "d1");
  for (let i = 0; i < depth; i++) {
    const cond = Q.fn("GT", Q.column(p, "i1"), Q.value("int", i));
    const shifted = Q.fn("DateAddMonths", x, Q.value("int", 1));
    const min = Q.fn("MinimumOf", shifted, Q.value("date", "2020-01-01"), x);
    const coalesced = Q.case([{ when: Q.fn("IsNull", min), then: Q.value("date", "1999-01-01") }], min);
    x = Q.case([{ when: cond, then: coalesced }], x);
  }
  return x;
}

describe.each(DIALECTS)("SQL size on $name", (d) => {
  it("grows linearly with a deeply nested when/minimumOf definition", () => {
    const sizes = [5, 10, 20, 40].map((n) => sqlOf(d, nested(n)).length);
    const perLevel = sizes.slice(1).map((s, i) => (s - sizes[i]!) / ([10, 20, 40][i]! - [5, 10, 20][i]!));
    // The cost of one more level stays the same at every depth (no doubling).
    const [first, ...rest] = perLevel;
    for (const r of rest) expect(r).toBeLessThan(first! * 1.5);
  });
});

describe("codelists", () => {
  it("keeps a long codelist in a temporary table, not an IN list", () => {
    const codes = Array.from({ length: 500 }, (_, i) => String(100000 + i));
    const sql = sqlOf(new SqliteDialect(), Q.aggregate("Exists", Q.filter(e, Q.fn("In", Q.column(e, "c1"), Q.value("set<snomedct>", codes)))));
    expect(sql).toMatch(/CREATE TEMPORARY TABLE "enc_codes_\d+"/);
    expect(sql).toMatch(/IN \(SELECT value FROM "enc_codes_\d+"\)/);
    expect(sql).not.toMatch(/IN \('100000'/);
  });
  it("writes a short codelist inline", () => {
    const sql = sqlOf(new SqliteDialect(), Q.fn("In", Q.column(p, "i1"), Q.value("set<int>", [1, 2])));
    expect(sql).toMatch(/IN \(1, 2\)/);
  });
});

describe("literals", () => {
  it.each(DIALECTS)("escapes quotes and nothing else in strings ($name)", (d) => {
    expect(d.stringLiteral("it's")).toBe("'it''s'");
    expect(d.stringLiteral("a\\'; DROP TABLE e; --")).toBe("'a\\''; DROP TABLE e; --'");
    expect(() => d.stringLiteral("nul\0")).toThrow(/NUL/);
  });
});
