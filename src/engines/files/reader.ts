// Table readers: from a folder of CSV files (dummy tables), and from rows in
// memory (tests). Every problem in a file is reported with the file, the line
// and the column, so a researcher can go straight to it.

import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import type { Scalar } from "../../querymodel/index.js";
import type { Row, TableReader, TableSpec } from "../types.js";
import { CellParseError, parseCell } from "./cells.js";
import { CsvSyntaxError, parseCsv } from "./csv.js";
import { readParquetTable } from "./columnar.js";

const gunzipAsync = promisify(gunzip);

/** A table file that cannot be read: its message names the file, and the line and column when there is one. */
export class TableFileError extends Error {
  override name = "TableFileError";
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: string | undefined,
    readonly problem: string,
  ) {
    super([file, line !== undefined ? `line ${line}` : undefined, column !== undefined ? `column ${column}` : undefined].filter(Boolean).join(", ") + `: ${problem}`);
  }
}

/** Reads `<dir>/<table>.csv`, `.csv.gz` or `.parquet`; a table with no file is empty. */
export class FileTableReader implements TableReader {
  private readonly noted = new Set<string>();

  constructor(readonly dir: string) {}

  async read(table: TableSpec): Promise<Row[]> {
    const plain = join(this.dir, `${table.name}.csv`);
    const gzipped = `${plain}.gz`;
    const parquet = join(this.dir, `${table.name}.parquet`);
    const [hasPlain, hasGzipped, hasParquet] = await Promise.all([exists(plain), exists(gzipped), exists(parquet)]);
    const found = [hasPlain && plain, hasGzipped && gzipped, hasParquet && parquet].filter(Boolean);
    if (found.length > 1) {
      throw new TableFileError(found[0] as string, undefined, undefined, `${found.length === 2 ? "both " : ""}${found.join(" and ")} exist for table ${table.name}; keep only one`);
    }
    if (hasParquet) {
      return readParquetTable(parquet, table, (row, column, problem) => new TableFileError(parquet, row, column, problem));
    }
    if (!hasPlain && !hasGzipped) {
      // Dummy tables often leave out tables a definition does not need data from.
      if (!this.noted.has(table.name)) {
        this.noted.add(table.name);
        process.stderr.write(`note: no file for table ${table.name} in ${this.dir}; treating it as empty\n`);
      }
      return [];
    }
    const file = hasGzipped ? gzipped : plain;
    return parseTableCsv(file, await readCsvText(file), table);
  }
}

/** The text of a `.csv` or `.csv.gz` file (by its ending), as UTF-8. */
export async function readCsvText(file: string): Promise<string> {
  let bytes = await readFile(file);
  if (file.toLowerCase().endsWith(".gz")) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (e) {
      throw new TableFileError(file, undefined, undefined, `not a valid gzip file (${(e as Error).message})`);
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new TableFileError(file, undefined, undefined, "not valid UTF-8 text");
  }
}

/** Whether something is at `path` (a file or a folder, readable or not). */
export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Parses a table file's text into rows `[patient_id, ...columns in the schema's order]`. */
export function parseTableCsv(file: string, text: string, table: TableSpec): Row[] {
  const fail = (line: number | undefined, column: string | undefined, problem: string) => new TableFileError(file, line, column, problem);
  const records = parseCsv(text);
  try {
    const first = records.next();
    if (first.done) throw fail(undefined, undefined, "the file is empty; expected a header row naming patient_id and the table's columns");
    const header = first.value.cells;
    const columns = Object.entries(table.schema);
    const position = (name: string): number => {
      const at = header.indexOf(name);
      if (at < 0) {
        throw fail(first.value.line, undefined, `no column ${name} in the header (table ${table.name} needs patient_id, ${columns.map(([c]) => c).join(", ")})`);
      }
      if (header.indexOf(name, at + 1) >= 0) throw fail(first.value.line, undefined, `column ${name} appears twice in the header`);
      return at;
    };
    const pidAt = position("patient_id");
    const wanted = columns.map(([name, type]) => ({ name, type, at: position(name) }));

    const rows: Row[] = [];
    const firstLineOf = new Map<number, number>();
    for (const { line, cells } of records) {
      if (cells.length !== header.length) {
        throw fail(line, undefined, `expected ${header.length} cells as in the header, found ${cells.length}`);
      }
      const pid = parseCell(cells[pidAt]!, "int");
      if (pid instanceof CellParseError) throw fail(line, "patient_id", pid.message);
      if (pid === null) throw fail(line, "patient_id", "empty; every row needs a patient_id");
      if (table.patientLevel) {
        const seen = firstLineOf.get(pid as number);
        if (seen !== undefined) {
          throw fail(line, "patient_id", `patient ${pid} appears twice (also on line ${seen}); ${table.name} has one row per patient`);
        }
        firstLineOf.set(pid as number, line);
      }
      const row: Scalar[] = [pid];
      for (const w of wanted) {
        const v = parseCell(cells[w.at]!, w.type);
        if (v instanceof CellParseError) throw fail(line, w.name, v.message);
        row.push(v);
      }
      rows.push(row);
    }
    return rows;
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw fail(e.line, undefined, e.message);
    throw e;
  }
}

/** Rows given in memory, `{ table: [[patient_id, ...columns in the schema's order], ...] }`; a missing table is empty. */
export class RowsTableReader implements TableReader {
  constructor(private readonly tables: Readonly<Record<string, readonly Row[]>>) {}

  async read(table: TableSpec): Promise<Row[]> {
    const rows = Object.hasOwn(this.tables, table.name) ? this.tables[table.name]! : [];
    const width = Object.keys(table.schema).length + 1;
    rows.forEach((row, i) => {
      if (row.length !== width) {
        throw new Error(`RowsTableReader: row ${i + 1} of table ${table.name} has ${row.length} values; expected ${width} (patient_id, ${Object.keys(table.schema).join(", ")})`);
      }
    });
    return rows.map((r) => [...r]);
  }
}
