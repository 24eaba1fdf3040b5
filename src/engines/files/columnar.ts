// Columnar files: Arrow IPC (`.arrow`, written with apache-arrow) and Parquet
// (read and written through DuckDB's built-in parquet support). Both take rows
// batch by batch, as the CSV writer does.

import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { createRequire } from "node:module";
import type { DataType, Table } from "apache-arrow";
import { duckdbApi } from "../sql/duckdb.js";

// Loaded on first use, as the database drivers are: most commands never write Arrow.
let arrow: typeof import("apache-arrow") | undefined;
const arrowApi = (): typeof import("apache-arrow") => (arrow ??= createRequire(import.meta.url)("apache-arrow") as typeof import("apache-arrow"));
import { type Scalar, type ScalarType, formatIsoDate, parseIsoDate } from "../../querymodel/index.js";
import type { Row, TableSpec } from "../types.js";
import { CellParseError, formatCell, parseCell } from "./cells.js";

type Column = { name: string; type: string };

function arrowType(t: string): DataType {
  const { Bool, DateDay, Float64, Int64, Utf8 } = arrowApi();
  return t === "bool" ? new Bool() : t === "int" ? new Int64() : t === "float" ? new Float64() : t === "date" ? new DateDay() : new Utf8();
}
function arrowValue(v: Scalar, t: string): unknown {
  if (v === null) return null;
  if (t === "int") return BigInt(v as number);
  if (t === "date") return new Date(`${v as string}T00:00:00Z`);
  return v;
}

/** Writes rows as an Arrow IPC file, one record batch per batch of rows. */
export async function writeArrow(file: string, columns: readonly Column[], batches: AsyncIterable<Row[]>): Promise<number> {
  const { RecordBatchFileWriter, Table, vectorFromArray } = arrowApi();
  const writer = new RecordBatchFileWriter();
  const out = createWriteStream(file);
  const piped = writer.toNodeStream().pipe(out);
  const finished = once(piped, "finish");
  let rows = 0;
  let wrote = false;
  const toBatch = (batch: Row[]) => {
    const vectors = Object.fromEntries(columns.map((c, i) => [c.name, vectorFromArray(batch.map((r) => arrowValue(r[i]!, c.type)), arrowType(c.type))]));
    return new Table(vectors).batches;
  };
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    for (const rb of toBatch(batch)) writer.write(rb);
    rows += batch.length;
    wrote = true;
  }
  // An empty dataset still has a schema.
  if (!wrote) for (const rb of toBatch([])) writer.write(rb);
  writer.finish();
  await finished;
  return rows;
}

function duckType(t: string): string {
  return t === "bool" ? "BOOLEAN" : t === "int" ? "BIGINT" : t === "float" ? "DOUBLE" : t === "date" ? "DATE" : "VARCHAR";
}

/** Writes rows as a Parquet file: appended to a DuckDB table that may spill to disk, then copied out. */
export async function writeParquet(file: string, columns: readonly Column[], batches: AsyncIterable<Row[]>): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), "enclave-parquet-"));
  const instance = await duckdbApi().DuckDBInstance.create(join(scratch, "rows.duckdb"), { memory_limit: "512MB", temp_directory: scratch });
  const conn = await instance.connect();
  let rows = 0;
  try {
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    await conn.run(`CREATE TABLE dataset (${columns.map((c) => `${q(c.name)} ${duckType(c.type)}`).join(", ")})`);
    for await (const batch of batches) {
      const appender = await conn.createAppender("dataset");
      for (const row of batch) {
        columns.forEach((c, i) => {
          const v = row[i] ?? null;
          if (v === null) appender.appendNull();
          else if (c.type === "bool") appender.appendBoolean(v as boolean);
          else if (c.type === "int") appender.appendBigInt(BigInt(v as number));
          else if (c.type === "float") appender.appendDouble(v as number);
          else if (c.type === "date") appender.appendDate(new (duckdbApi().DuckDBDateValue)(parseIsoDate(v as string)!));
          else appender.appendVarchar(String(v));
        });
        appender.endRow();
      }
      appender.closeSync();
      rows += batch.length;
    }
    await conn.run(`COPY dataset TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  } finally {
    conn.closeSync();
    instance.closeSync();
    await rm(scratch, { recursive: true, force: true });
  }
  return rows;
}

/** Reads a table from a Parquet file, checking every value as a CSV cell would be checked. */
export async function readParquetTable(file: string, table: TableSpec, fail: (row: number | undefined, column: string | undefined, problem: string) => Error): Promise<Row[]> {
  const instance = await duckdbApi().DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const src = `read_parquet('${file.replace(/'/g, "''")}')`;
    let names: string[];
    try {
      const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
      names = described.getRows().map((r) => String(r[0]));
    } catch (e) {
      throw fail(undefined, undefined, `not a readable Parquet file (${(e as Error).message.split("\n")[0]})`);
    }
    const columns = Object.entries(table.schema);
    for (const c of ["patient_id", ...columns.map(([n]) => n)]) {
      if (!names.includes(c)) throw fail(undefined, undefined, `no column ${c} (table ${table.name} needs patient_id, ${columns.map(([n]) => n).join(", ")})`);
    }
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const result = await conn.runAndReadAll(`SELECT ${["patient_id", ...columns.map(([n]) => n)].map((c) => `CAST(${q(c)} AS VARCHAR)`).join(", ")} FROM ${src}`);
    const seen = new Set<number>();
    return result.getRows().map((cells, i) => {
      const row: Scalar[] = [];
      const types: ScalarType[] = ["int", ...columns.map(([, t]) => t)];
      cells.forEach((cell, j) => {
        const name = j === 0 ? "patient_id" : columns[j - 1]![0];
        const v = cell === null ? null : parseCell(String(cell), types[j]!);
        if (v instanceof CellParseError) throw fail(i + 1, name, v.message);
        if (j === 0 && v === null) throw fail(i + 1, name, "empty; every row needs a patient_id");
        row.push(v);
      });
      if (table.patientLevel) {
        if (seen.has(row[0] as number)) throw fail(i + 1, "patient_id", `patient ${row[0]} appears twice; ${table.name} has one row per patient`);
        seen.add(row[0] as number);
      }
      return row;
    });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/**
 * Every cell of a Parquet or Arrow file as the text a CSV file would hold
 * (null for NULL), with the file's own column names: for callers that check
 * the columns and values themselves, with parseCell, and report every problem.
 */
export async function readColumnarCells(file: string, kind: "parquet" | "arrow", fail: (problem: string) => Error): Promise<{ columns: string[]; rows: (string | null)[][] }> {
  return kind === "parquet" ? readParquetCells(file, fail) : readArrowCells(file, fail);
}

async function readParquetCells(file: string, fail: (problem: string) => Error): Promise<{ columns: string[]; rows: (string | null)[][] }> {
  const instance = await duckdbApi().DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const src = `read_parquet('${file.replace(/'/g, "''")}')`;
    let columns: string[];
    try {
      const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
      columns = described.getRows().map((r) => String(r[0]));
    } catch (e) {
      throw fail(`not a readable Parquet file (${(e as Error).message.split("\n")[0]})`);
    }
    if (columns.length === 0) return { columns, rows: [] };
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const result = await conn.runAndReadAll(`SELECT ${columns.map((c) => `CAST(${q(c)} AS VARCHAR)`).join(", ")} FROM ${src}`);
    return { columns, rows: result.getRows().map((cells) => cells.map((c) => (c === null ? null : String(c)))) };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function readArrowCells(file: string, fail: (problem: string) => Error): Promise<{ columns: string[]; rows: (string | null)[][] }> {
  let table: Table;
  try {
    table = arrowApi().tableFromIPC(await readFile(file));
  } catch (e) {
    throw fail(`not a readable Arrow IPC file (${(e as Error).message.split("\n")[0]})`);
  }
  const fields = table.schema.fields;
  // As the writer above writes them, so that a file it wrote reads back as it was.
  const { DataType } = arrowApi();
  const text = fields.map((f) => {
    if (DataType.isDate(f.type)) return (v: unknown) => formatIsoDate(Math.floor(Number(v) / 86_400_000));
    if (DataType.isBool(f.type)) return (v: unknown) => (v ? "T" : "F");
    // A float written as an integer would pass for an int: keep the ".0", as Parquet's text does.
    if (DataType.isFloat(f.type)) return (v: unknown) => (Number.isFinite(v) ? formatCell(v as number, "float") : String(v));
    return (v: unknown) => String(v);
  });
  const vectors = fields.map((_, j) => table.getChildAt(j)!);
  const rows: (string | null)[][] = [];
  for (let i = 0; i < table.numRows; i++) {
    rows.push(vectors.map((v, j) => {
      const value: unknown = v.get(i);
      return value === null || value === undefined ? null : text[j]!(value);
    }));
  }
  return { columns: fields.map((f) => f.name), rows };
}
