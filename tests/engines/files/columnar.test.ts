import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tableFromIPC } from "apache-arrow";
import { DuckDBInstance } from "@duckdb/node-api";
import { FileTableReader, TableFileError, writeDataset } from "../../../src/engines/files/index.js";
import type { Row } from "../../../src/engines/types.js";

const columns = [
  { name: "patient_id", type: "int" },
  { name: "b", type: "bool" },
  { name: "i", type: "int" },
  { name: "f", type: "float" },
  { name: "s", type: "str" },
  { name: "d", type: "date" },
  { name: "c", type: "snomedct" },
];
const rows: Row[] = [
  [1, true, 7, 1.5, "it's, \"quoted\"", "2020-02-29", "123456"],
  [2, null, null, null, null, null, null],
  [3, false, -9007199254740991, 2, "", "1900-01-01", "999999999999999999"],
];
async function* batches(): AsyncIterable<Row[]> {
  yield rows.slice(0, 2);
  yield rows.slice(2);
}
const tmp = () => mkdtemp(join(tmpdir(), "enclave-columnar-"));

describe("columnar outputs", () => {
  it("writes Arrow IPC files that read back with every type and NULL", async () => {
    const file = join(await tmp(), "out.arrow");
    expect(await writeDataset(file, columns, batches())).toEqual({ rows: 3 });
    const table = tableFromIPC(await readFile(file));
    expect(table.schema.fields.map((f) => f.name)).toEqual(columns.map((c) => c.name));
    expect(table.numRows).toBe(3);
    const first = table.get(0)!.toJSON();
    expect(first.patient_id).toBe(1n);
    expect(first.b).toBe(true);
    expect(first.f).toBe(1.5);
    expect(first.s).toBe("it's, \"quoted\"");
    expect(new Date(first.d as number).toISOString().slice(0, 10)).toBe("2020-02-29");
    expect(table.get(1)!.toJSON().i).toBeNull();
    expect(table.get(2)!.toJSON().i).toBe(-9007199254740991n);
  });

  it("writes Parquet files that read back with every type and NULL", async () => {
    const dir = await tmp();
    const file = join(dir, "out.parquet");
    expect(await writeDataset(file, columns, batches())).toEqual({ rows: 3 });
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    const r = await conn.runAndReadAll(`SELECT patient_id, b, i, f, s, CAST(d AS VARCHAR) AS d, c, typeof(d) AS dt, typeof(i) AS it FROM read_parquet('${file}') ORDER BY patient_id`);
    const got = r.getRowObjects();
    expect(got[0]).toMatchObject({ patient_id: 1n, b: true, i: 7n, f: 1.5, s: "it's, \"quoted\"", d: "2020-02-29", c: "123456", dt: "DATE", it: "BIGINT" });
    expect(got[1]).toMatchObject({ b: null, i: null, s: null, d: null });
    // Nothing but the output is left behind.
    expect(await readdir(dir)).toEqual(["out.parquet"]);
    conn.closeSync();
    db.closeSync();
  });

  it("reads Parquet table files, checking values like CSV cells", async () => {
    const dir = await tmp();
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    await conn.run(`COPY (SELECT 1 AS patient_id, DATE '2000-05-01' AS date_of_birth, 'female' AS sex UNION ALL SELECT 2, NULL, 'male') TO '${join(dir, "patients.parquet")}' (FORMAT parquet)`);
    await conn.run(`COPY (SELECT 1 AS patient_id, 'not a date' AS date) TO '${join(dir, "bad.parquet")}' (FORMAT parquet)`);
    conn.closeSync();
    db.closeSync();
    const reader = new FileTableReader(dir);
    expect(await reader.read({ name: "patients", schema: { date_of_birth: "date", sex: "str" }, patientLevel: true })).toEqual([
      [1, "2000-05-01", "female"],
      [2, null, "male"],
    ]);
    await expect(reader.read({ name: "bad", schema: { date: "date" }, patientLevel: false })).rejects.toThrow(TableFileError);
    await expect(reader.read({ name: "bad", schema: { date: "date" }, patientLevel: false })).rejects.toThrow(/bad\.parquet, line 1, column date/);
    await expect(reader.read({ name: "patients", schema: { nope: "int" }, patientLevel: true })).rejects.toThrow(/no column nope/);
  });
});
