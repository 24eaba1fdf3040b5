// Where synthetic rows go: a folder of gzipped CSV table files (ehrQL's
// conventions, through the same cell formatting as dataset outputs), or a
// database through an engine's connection. Both take a block of rows per
// table at a time, so memory stays bounded however many patients there are.

import { closeSync, createWriteStream, openSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import { type Gzip, createGzip } from "node:zlib";
import type { ScalarType } from "../querymodel/index.js";
import type { Row, TableSpec } from "../engines/types.js";
import type { SqlConnection } from "../engines/sql/connection.js";
import { formatCell } from "../engines/files/cells.js";
import { csvField, csvLine } from "../engines/files/csv.js";
import { exists } from "../engines/files/reader.js";

export interface Sink {
  /** Creates every table, empty. */
  open(tables: readonly TableSpec[]): Promise<void>;
  /** Appends one block's rows, table by table (in the order given to open); a sink may hold them back to write in bulk. */
  write(rows: readonly (readonly Row[])[]): Promise<void>;
  /** Finishes every table. */
  close(): Promise<void>;
  /** Undoes what can be undone after a failure. */
  abort(): Promise<void>;
}

export class SynthError extends Error {
  override name = "SynthError";
}

// ---- CSV text -------------------------------------------------------------------

/**
 * Rows as CSV lines, with the cell conventions of table files (formatCell's:
 * NULL empty, booleans T/F, dates ISO, integral floats with ".0") and csvLine's
 * quoting. Written out by type rather than through formatCell for speed: the
 * values come from the generators, which only make values of the column's type.
 */
export function csvRows(rows: readonly Row[], types: readonly ScalarType[]): string {
  const lines = new Array<string>(rows.length + 1);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    let line = String(row[0]);
    for (let i = 1; i < row.length; i++) {
      const v = row[i]!;
      if (v === null) {
        line += ",";
        continue;
      }
      switch (types[i - 1]) {
        case "int":
        case "date":
          line += "," + (v as string | number);
          break;
        case "bool":
          line += v ? ",T" : ",F";
          break;
        case "float":
          line += "," + formatCell(v, "float");
          break;
        default:
          line += "," + csvField(v as string);
      }
    }
    lines[r] = line;
  }
  lines[rows.length] = "";
  return lines.join("\n");
}

// ---- a folder of <table>.csv.gz --------------------------------------------

interface OpenFile {
  readonly spec: TableSpec;
  readonly types: readonly ScalarType[];
  readonly partial: string;
  readonly final: string;
  readonly gzip: Gzip;
  readonly done: Promise<void>;
}

export class CsvDirectorySink implements Sink {
  private files: OpenFile[] = [];

  constructor(
    private readonly dir: string,
    private readonly level = 6,
  ) {}

  async open(tables: readonly TableSpec[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // A plain <table>.csv beside the new .csv.gz would make the folder unreadable (which one is meant?).
    for (const t of tables) {
      const plain = join(this.dir, `${t.name}.csv`);
      if (await exists(plain)) throw new SynthError(`${plain} exists; the synthetic ${t.name}.csv.gz would sit beside it. Remove it or write to another folder`);
    }
    for (const spec of tables) {
      const final = join(this.dir, `${spec.name}.csv.gz`);
      const partial = join(this.dir, `.${spec.name}.csv.gz.${process.pid}.partial`);
      const gzip = createGzip({ level: this.level });
      const done = pipeline(gzip, createWriteStream(partial));
      // Failures surface when the table is written or closed; keep them from being unhandled meanwhile.
      done.catch(() => undefined);
      const types = Object.values(spec.schema);
      this.files.push({ spec, types, partial, final, gzip, done });
      gzip.write(csvLine(["patient_id", ...Object.keys(spec.schema)]));
    }
  }

  async write(rows: readonly (readonly Row[])[]): Promise<void> {
    for (let t = 0; t < this.files.length; t++) {
      const block = rows[t]!;
      if (block.length === 0) continue;
      const { gzip, types } = this.files[t]!;
      const text = csvRows(block, types);
      if (!gzip.write(text)) await Promise.race([once(gzip, "drain"), this.files[t]!.done]);
    }
  }

  async close(): Promise<void> {
    for (const f of this.files) f.gzip.end();
    for (const f of this.files) {
      await f.done;
      await rename(f.partial, f.final);
    }
    this.files = [];
  }

  async abort(): Promise<void> {
    for (const f of this.files) {
      f.gzip.destroy();
      await f.done.catch(() => undefined);
      await rm(f.partial, { force: true });
    }
    this.files = [];
  }
}


// ---- a database ---------------------------------------------------------------

/** Refuses a database that already has one of the tables, then creates them all. */
async function createTables(conn: SqlConnection, tables: readonly TableSpec[]): Promise<void> {
  for (const t of tables) {
    if (await conn.tableExists(t.name)) {
      throw new SynthError(`the database already has a table ${t.name}; synthesize into an empty database (or schema)`);
    }
  }
  for (const t of tables) await conn.createTable(t);
}

/** Appends through the connection's insertRows, in batches of at least `batchRows` rows per table. */
export class SqlSink implements Sink {
  protected tables: readonly TableSpec[] = [];
  private buffers: Row[][] = [];

  constructor(
    protected readonly conn: SqlConnection,
    private readonly batchRows = 20_000,
  ) {}

  async open(tables: readonly TableSpec[]): Promise<void> {
    await createTables(this.conn, tables);
    this.tables = tables;
    this.buffers = tables.map(() => []);
  }

  async write(rows: readonly (readonly Row[])[]): Promise<void> {
    for (let t = 0; t < this.tables.length; t++) {
      const buffer = this.buffers[t]!;
      for (const r of rows[t]!) buffer.push(r);
      if (buffer.length >= this.batchRows) await this.flush(t);
    }
  }

  private async flush(t: number): Promise<void> {
    const rows = this.buffers[t]!;
    this.buffers[t] = [];
    if (rows.length > 0) await this.insert(this.tables[t]!, rows);
  }

  protected async insert(table: TableSpec, rows: readonly Row[]): Promise<void> {
    await this.conn.insertRows(table, rows);
  }

  async close(): Promise<void> {
    for (let t = 0; t < this.tables.length; t++) await this.flush(t);
    for (const t of this.tables) await this.conn.finishTable(t);
  }

  async abort(): Promise<void> {
    // The tables stay, partly filled: dropping them could drop someone else's on a retry.
    this.buffers = [];
  }
}

/**
 * PostgreSQL's bulk path without a COPY client: one statement per batch that
 * inserts from arrays, one array literal per column
 * (`INSERT INTO t SELECT * FROM unnest('{..}'::BIGINT[], '{..}'::DATE[], ...)`),
 * about three times faster than a multi-row INSERT with a parameter per value.
 */
export class PostgresArraySink extends SqlSink {
  protected override async insert(table: TableSpec, rows: readonly Row[]): Promise<void> {
    const d = this.conn.dialect;
    const types: ScalarType[] = ["int", ...Object.values(table.schema)];
    const arrays = types.map((t, i) => `${d.stringLiteral(arrayLiteral(rows, i, t))}::${d.columnType(t)}[]`);
    await this.conn.exec(`INSERT INTO ${d.quote(table.name)} SELECT * FROM unnest(${arrays.join(", ")})`);
  }
}

/** One column of the rows as a PostgreSQL array literal: numbers bare, booleans t/f, text quoted with backslash escapes. */
export function arrayLiteral(rows: readonly Row[], column: number, type: ScalarType): string {
  const items = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r]![column]!;
    if (v === null) items[r] = "NULL";
    else if (type === "int" || type === "float") items[r] = String(v);
    else if (type === "bool") items[r] = v ? "t" : "f";
    else items[r] = `"${String(v).replace(/[\\"]/g, "\\$&")}"`;
  }
  return `{${items.join(",")}}`;
}

/**
 * DuckDB's bulk path: rows go to temporary CSV files that DuckDB's own reader
 * loads (`COPY ... FROM`), about ten times faster than appending row by row.
 * Only the connection's `exec` is used, so any DuckDB connection will do.
 */
export class DuckdbCopySink implements Sink {
  private tables: readonly TableSpec[] = [];
  private types: ScalarType[][] = [];
  private files: ({ fd: number; path: string; bytes: number } | undefined)[] = [];
  private dir: string | undefined;
  private serial = 0;
  // One COPY at a time, while the next rows are made.
  private copying: Promise<void> = Promise.resolve();

  constructor(
    private readonly conn: SqlConnection,
    private readonly flushBytes = 64 * 1024 * 1024,
  ) {}

  async open(tables: readonly TableSpec[]): Promise<void> {
    await createTables(this.conn, tables);
    this.tables = tables;
    this.types = tables.map((t) => Object.values(t.schema));
    this.files = tables.map(() => undefined);
    this.dir = await mkdtemp(join(tmpdir(), "enclave-synth-"));
  }

  async write(rows: readonly (readonly Row[])[]): Promise<void> {
    for (let t = 0; t < this.tables.length; t++) {
      if (rows[t]!.length === 0) continue;
      const text = csvRows(rows[t]!, this.types[t]!);
      let file = this.files[t];
      if (!file) {
        const path = join(this.dir!, `${this.tables[t]!.name}.${this.serial++}.csv`);
        file = this.files[t] = { fd: openSync(path, "w"), path, bytes: 0 };
      }
      // Written synchronously: a small write to the page cache costs less than a round trip through the thread pool.
      file.bytes += writeSync(file.fd, text);
      if (file.bytes >= this.flushBytes) await this.flush(t);
    }
  }

  /** Closes the table's file and queues its COPY; waits for the COPY before this one, so at most one file waits. */
  private async flush(t: number): Promise<void> {
    const file = this.files[t];
    if (!file) return;
    this.files[t] = undefined;
    closeSync(file.fd);
    const d = this.conn.dialect;
    const sql = `COPY ${d.quote(this.tables[t]!.name)} FROM ${d.stringLiteral(file.path)} (FORMAT csv, HEADER false, DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR '', AUTO_DETECT false)`;
    const previous = this.copying;
    this.copying = previous.then(async () => {
      try {
        await this.conn.exec(sql);
      } finally {
        await rm(file.path, { force: true });
      }
    });
    await previous;
  }

  async close(): Promise<void> {
    try {
      for (let t = 0; t < this.tables.length; t++) await this.flush(t);
      await this.copying;
      for (const t of this.tables) await this.conn.finishTable(t);
    } finally {
      await this.removeDir();
    }
  }

  async abort(): Promise<void> {
    await this.copying.catch(() => undefined);
    for (const f of this.files) if (f) closeSync(f.fd);
    this.files = [];
    await this.removeDir();
  }

  private async removeDir(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
