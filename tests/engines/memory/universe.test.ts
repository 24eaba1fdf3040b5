import { describe, expect, it } from "vitest";
import { MemoryEngine } from "../../../src/engines/memory/index.js";
import { RowsTableReader } from "../../../src/engines/files/index.js";
import { Q } from "../../../src/querymodel/index.js";
import { bool, byPatient, col, dataset, e, everyone, fn, int, p, run } from "./helpers.js";

const P = (pid: number, i1: number | null) => [pid, i1, null, null, null];
const E = (pid: number, i1: number | null) => [pid, i1, null, null, null, null, null, null];

describe("the patient universe", () => {
  it("holds every patient in any table the dataset reads, in ascending order", async () => {
    const inline = Q.inlinePatientTable({ k: "str" }, [[7, "x"], [2, "y"]]);
    const ds = dataset(everyone, { pi: col(p, "i1"), ei: Q.aggregate("Count", e), k: col(inline, "k") });
    const rows = await run(ds, { p: [P(5, 1), P(1, 2)], e: [E(3, 0), E(3, 0), E(1, 9)] });
    expect(rows).toEqual([
      [1, 2, 1, null],
      [2, null, 0, "y"],
      [3, null, 2, null],
      [5, 1, 0, null],
      [7, null, 0, "x"],
    ]);
  });

  it("does not include patients of tables the dataset does not read", async () => {
    const ds = dataset(everyone, { pi: col(p, "i1") });
    const rows = await run(ds, { p: [P(4, 1)], e: [E(1, 1)], other: [[9]] });
    expect(rows).toEqual([[4, 1]]);
  });

  it("counts tables read only inside filter conditions and sort keys", async () => {
    // e is read only through the population; p only through a condition inside it.
    const pop = Q.aggregate("Exists", Q.filter(e, fn("GT", col(e, "i1"), col(p, "i1"))));
    const ds = dataset(fn("Not", pop), {});
    const rows = await run(ds, { p: [P(8, 100)], e: [E(1, 5)] });
    // Patient 8 has no events, so Exists is false and Not gives true; patient 1's
    // event is compared with a NULL p.i1, so it is dropped too.
    expect(rows).toEqual([[1], [8]]);
  });

  it("keeps only patients whose population is exactly true (NULL and false are out)", async () => {
    const ds = dataset(fn("GT", col(p, "i1"), int(0)), { i1: col(p, "i1") });
    const rows = await run(ds, { p: [P(1, 1), P(2, 0), P(3, null), P(4, 5)] });
    expect(rows).toEqual([
      [1, 1],
      [4, 5],
    ]);
  });

  it("yields nothing when no table has rows", async () => {
    expect(await run(dataset(everyone, { i1: col(p, "i1") }), {})).toEqual([]);
  });

  it("yields batches of at most 1000 rows, in ascending patient order across batches", async () => {
    const pids = Array.from({ length: 2500 }, (_, i) => 2500 - i);
    const engine = new MemoryEngine(new RowsTableReader({ p: pids.map((pid) => P(pid, pid * 2)) }));
    const sizes: number[] = [];
    const all: number[] = [];
    for await (const b of engine.execute(dataset(everyone, { i1: col(p, "i1") }))) {
      sizes.push(b.length);
      for (const [pid, v] of b) {
        expect(v).toBe((pid as number) * 2);
        all.push(pid as number);
      }
    }
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(all).toEqual([...pids].sort((a, b) => a - b));
    expect(engine.name).toBe("memory");
  });

  it("refuses to run a Parameter that was not substituted", async () => {
    const ds = dataset(everyone, { x: fn("Add", col(p, "i1"), Q.parameter("interval_size", "int")) });
    await expect(run(ds, { p: [P(1, 1)] })).rejects.toThrow(/parameter "interval_size" has no value/);
  });

  it("reads each table once, with its schema and level", async () => {
    const seen: string[] = [];
    const reader = {
      async read(t: { name: string; schema: object; patientLevel: boolean }) {
        seen.push(`${t.name}:${Object.keys(t.schema).join("+")}:${t.patientLevel}`);
        return t.name === "p" ? [P(1, 3)] : [E(1, 4)];
      },
    };
    const ds = dataset(bool(true), { a: col(p, "i1"), b: Q.aggregate("Sum", col(e, "i1")), c: Q.aggregate("Max", col(e, "i1")) });
    const out: unknown[] = [];
    for await (const b of new MemoryEngine(reader).execute(ds)) out.push(...b);
    expect(out).toEqual([[1, 3, 4, 4]]);
    expect(seen.sort()).toEqual(["e:i1+i2+b1+d1+f1+c1+s1:false", "p:i1+b1+d1+s1:true"]);
  });
});

describe("patient frames", () => {
  it("give NULL in every column for a patient with no row", async () => {
    const ds = dataset(everyone, { i1: col(p, "i1"), b1: col(p, "b1"), d1: col(p, "d1"), s1: col(p, "s1") });
    const got = await byPatient(ds, { p: [[1, 4, true, "2001-02-03", "x"]], e: [E(2, 1)] });
    expect(got).toEqual({ 1: [4, true, "2001-02-03", "x"] });
    // Patient 2 is only in e, which this dataset does not read: add e.
    const ds2 = dataset(everyone, { i1: col(p, "i1"), b1: col(p, "b1"), n: Q.aggregate("Count", e) });
    expect(await byPatient(ds2, { p: [[1, 4, true, "2001-02-03", "x"]], e: [E(2, 1)] })).toEqual({
      1: [4, true, 0],
      2: [null, null, 1],
    });
  });

  it("inline patient tables give their values, NULL for patients not in them", async () => {
    const inline = Q.inlinePatientTable({ group: "str", weight: "float" }, [
      [1, "a", 1.5],
      [3, null, 2],
    ]);
    const ds = dataset(everyone, {
      group: col(inline, "group"),
      weight: col(inline, "weight"),
      has: Q.aggregate("Exists", inline),
      n: Q.aggregate("Count", inline),
      pi: col(p, "i1"),
    });
    expect(await byPatient(ds, { p: [P(2, 0)] })).toEqual({
      1: ["a", 1.5, true, 1, null],
      2: [null, null, false, 0, 0],
      3: [null, 2, true, 1, null],
    });
  });

  it("Exists and Count over a patient table say whether the patient has a row", async () => {
    const ds = dataset(everyone, { has: Q.aggregate("Exists", p), n: Q.aggregate("Count", p) });
    expect(await byPatient(ds, { p: [P(1, null)], e: [E(2, 1)] })).toEqual({ 1: [true, 1] });
    const ds2 = dataset(everyone, { has: Q.aggregate("Exists", p), n: Q.aggregate("Count", p), m: Q.aggregate("Count", e) });
    expect(await byPatient(ds2, { p: [P(1, null)], e: [E(2, 1)] })).toEqual({ 1: [true, 1, 0], 2: [false, 0, 1] });
  });
});
