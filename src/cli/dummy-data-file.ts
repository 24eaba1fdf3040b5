// `generate-dataset --dummy-data-file FILE`: the researcher's own dummy dataset
// stands in for the generated one. It is checked against the definition first
// (the same columns, every value of its variable's type, one row per patient),
// so that code written against it will also fit the real output; every problem
// is reported at once, since a hand-made file tends to have several.

import * as fs from "node:fs";
import { Option } from "commander";
import { CellParseError, CsvSyntaxError, parseCell, parseCsv, readColumnarCells, readCsvText } from "../engines/files/index.js";
import type { Row } from "../engines/types.js";
import type { Scalar, ScalarType } from "../querymodel/index.js";
import { UserError } from "./errors.js";

export const DUMMY_DATA_FORMATS = [".csv", ".csv.gz", ".parquet", ".arrow"] as const;

/** How many problems are listed before the rest are only counted. */
const MAX_PROBLEMS = 20;

export function dummyDataFileOption(): Option {
  return new Option(
    "--dummy-data-file <file>",
    `your own dummy dataset (${DUMMY_DATA_FORMATS.join(", ")}), written out instead of generated data once it is checked against the definition: patient_id and exactly its variables, each value of the variable's type`,
  );
}

type Format = "csv" | "parquet" | "arrow";

function formatOf(file: string): Format | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith(".csv") || lower.endsWith(".csv.gz")) return "csv";
  if (lower.endsWith(".parquet")) return "parquet";
  if (lower.endsWith(".arrow")) return "arrow";
  return undefined;
}

/** Checks what can be checked without the definition, so that a typo is reported before the definition runs. */
export function checkDummyDataFile(file: string): void {
  if (formatOf(file) === undefined) {
    throw new UserError(`--dummy-data-file ${file}: cannot tell the format from the file's ending; use ${DUMMY_DATA_FORMATS.join(", ")}`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UserError(`--dummy-data-file ${file}: no such file`);
  }
  if (!stat.isFile()) throw new UserError(`--dummy-data-file ${file}: not a file`);
}

/** A file's cells as text (null for a columnar NULL), each record with where it is: its line in a CSV file, its row in a columnar one. */
interface Cells {
  header: readonly string[];
  /** "line" for CSV files (the header is line 1), "row" for columnar files (the first data row is row 1). */
  unit: "line" | "row";
  records: Iterable<{ at: number; cells: readonly (string | null)[] }>;
  /** Set when a CSV syntax error stopped the reading: nothing after it can be trusted. */
  syntaxError?: { at: number; message: string };
}

async function readCells(file: string): Promise<Cells | "empty"> {
  const format = formatOf(file)!;
  const fail = (problem: string) => new UserError(`${file}: ${problem}`);
  if (format !== "csv") {
    const { columns, rows } = await readColumnarCells(file, format, fail);
    if (columns.length === 0) return "empty";
    return { header: columns, unit: "row", records: rows.map((cells, i) => ({ at: i + 1, cells })) };
  }
  const text = await readCsvText(file);
  // Read eagerly, so that a syntax error part-way is reported alongside the problems before it.
  const records: { at: number; cells: string[] }[] = [];
  let syntaxError: Cells["syntaxError"];
  try {
    for (const r of parseCsv(text)) records.push({ at: r.line, cells: r.cells });
  } catch (e) {
    if (!(e instanceof CsvSyntaxError)) throw e;
    syntaxError = { at: e.line, message: e.message };
  }
  const first = records.shift();
  if (first === undefined) {
    if (syntaxError) throw fail(`line ${syntaxError.at}: ${syntaxError.message}`);
    return "empty";
  }
  return { header: first.cells, unit: "line", records, syntaxError };
}

/**
 * Reads the dummy dataset in `file` and checks it against the dataset's
 * columns (`patient_id` first); returns its rows with the values typed and in
 * the columns' order, whatever the file's order, and patients in the file's order.
 */
export async function readDummyDataFile(file: string, columns: readonly { name: string; type: string }[]): Promise<Row[]> {
  const expected = columns.map((c) => c.name);
  const read = await readCells(file);
  if (read === "empty") throw new UserError(`${file}: the file is empty; expected a header row with the columns ${expected.join(", ")}`);
  const { header, unit, records, syntaxError } = read;

  const quoted = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(", ");
  const missing = expected.filter((n) => !header.includes(n));
  const unexpected = [...new Set(header.filter((n) => !expected.includes(n)))];
  const repeated = [...new Set(header.filter((n, i) => header.indexOf(n) !== i && expected.includes(n)))];
  if (missing.length + unexpected.length + repeated.length > 0) {
    const problems = [
      missing.length > 0 && `missing ${missing.length === 1 ? "column" : "columns"} ${quoted(missing)}`,
      unexpected.length > 0 && `unexpected ${unexpected.length === 1 ? "column" : "columns"} ${quoted(unexpected)}`,
      repeated.length > 0 && `${repeated.length === 1 ? "column" : "columns"} ${quoted(repeated)} more than once`,
    ].filter(Boolean);
    throw new UserError(`${file}: the columns do not match the dataset definition's: ${problems.join("; ")}`, [
      `the dataset definition's columns are ${expected.join(", ")} (in any order)`,
    ]);
  }

  const at = columns.map((c) => header.indexOf(c.name));
  const problems: string[] = [];
  let more = 0;
  const problem = (where: number, column: string | undefined, what: string) => {
    if (problems.length >= MAX_PROBLEMS) {
      more++;
      return;
    }
    problems.push([file, `${unit} ${where}`, column !== undefined ? `column ${JSON.stringify(column)}` : undefined].filter(Boolean).join(", ") + `: ${what}`);
  };

  const rows: Row[] = [];
  const firstSeen = new Map<number, number>();
  for (const { at: where, cells } of records) {
    if (cells.length !== header.length) {
      problem(where, undefined, `expected ${header.length} cells as in the header, found ${cells.length}`);
      continue;
    }
    const row: Scalar[] = [];
    columns.forEach((c, j) => {
      const text = cells[at[j]!]!;
      const v = text === null ? null : parseCell(text, c.type as ScalarType);
      if (v instanceof CellParseError) {
        problem(where, c.name, v.message);
        row.push(null);
      } else {
        if (j === 0 && v === null) problem(where, c.name, "empty; every row needs a patient_id");
        row.push(v);
      }
    });
    const pid = row[0];
    if (typeof pid === "number") {
      const seen = firstSeen.get(pid);
      if (seen !== undefined) problem(where, "patient_id", `patient ${pid} appears twice (also on ${unit} ${seen}); a dataset has one row per patient`);
      else firstSeen.set(pid, where);
    }
    rows.push(row);
  }
  if (syntaxError) problem(syntaxError.at, undefined, `${syntaxError.message} (the file was not read beyond it)`);

  if (problems.length > 0) {
    const total = problems.length + more;
    throw new UserError(`${file} does not fit the dataset definition: ${total} ${total === 1 ? "problem" : "problems"}`, [
      ...problems,
      ...(more > 0 ? [`and ${more} more`] : []),
    ]);
  }
  return rows;
}
