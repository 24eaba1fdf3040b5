// The content rules: does a blob look disclosive? Tables are held to the same
// checks as `enclave sdc check` (sdc/check.ts), so that the two never
// disagree on what a patient-level table or a small count is: the blob is
// written, as CSV, to a temporary file and checked there, and of the checker's
// rules only patient_level and small_count are kept (unrounded counts and the
// like are for release, not for a breach).
//
// What is read: CSV and TSV (also gzipped, by their name: x.csv.gz), and
// Parquet and Arrow (by their magic bytes, whatever their name; by their name
// when they cannot be read, which is enough to flag them). At most
// `limit` bytes of a table are read: a larger CSV is checked on its first
// complete lines (enough for a header and thousands of rows); a larger
// Parquet or Arrow file cannot be cut, and is flagged unread. Other binary
// formats (Stata, R, Excel, SAS, SPSS) are not read: known_output and
// output_path still find them, and the scan names them in a warning.

import * as fs from "node:fs";
import * as path from "node:path";
import { createGunzip } from "node:zlib";
import { csvLine } from "../engines/files/csv.js";
import { readColumnarCells } from "../engines/files/columnar.js";
import { formatBytes } from "../pipeline/metadata.js";
import { DEFAULT_THRESHOLD, SdcInputError, checkFiles } from "../sdc/check.js";

/** How much of a blob the content rules read, by default: 16 MiB. */
export const DEFAULT_CONTENT_LIMIT = 16 * 1024 * 1024;

export type ContentRule = "patient_level" | "small_count";

export interface ContentFinding {
  rule: ContentRule;
  message: string;
}

type Format = "csv" | "tsv" | "parquet" | "arrow";

const TABLE_EXTENSIONS: Record<string, Format> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
  ".parquet": "parquet",
  ".pq": "parquet",
  ".arrow": "arrow",
  ".feather": "arrow",
  ".ipc": "arrow",
};
// Names under which a Parquet or Arrow file may hide: read for their magic bytes.
const OPAQUE_EXTENSIONS = new Set([".dat", ".data", ".bin", ".gz"]);

// Data files in formats the content rules do not read: named in a warning, so that a clean report is not taken to cover them.
const UNREAD_DATA_EXTENSIONS = new Set([".dta", ".rds", ".rda", ".rdata", ".xlsx", ".xls", ".xlsm", ".ods", ".sas7bdat", ".xpt", ".sav", ".zsav", ".pkl", ".pickle", ".npy", ".npz", ".h5", ".hdf5", ".sqlite", ".db", ".duckdb"]);

/** Whether a path holds data in a format the content rules cannot read (Stata, R, Excel, SAS, SPSS, pickles, databases). */
export function isUnreadDataPath(p: string): boolean {
  return UNREAD_DATA_EXTENSIONS.has(extensionOf(p));
}

function extensionOf(p: string): string {
  return path.posix.extname(p).toLowerCase();
}

/** Whether the content rules read blobs at this path. */
export function isContentPath(p: string): boolean {
  const ext = extensionOf(p);
  return ext in TABLE_EXTENSIONS || OPAQUE_EXTENSIONS.has(ext);
}

/** The format a name promises: x.csv.gz is a CSV. */
function formatByName(p: string): Format | undefined {
  let name = p.toLowerCase();
  if (name.endsWith(".gz")) name = name.slice(0, -3);
  return TABLE_EXTENSIONS[path.posix.extname(name)];
}

function formatByMagic(head: Buffer): "parquet" | "arrow" | "gzip" | undefined {
  if (head.length >= 4 && head.toString("latin1", 0, 4) === "PAR1") return "parquet";
  if (head.length >= 6 && head.toString("latin1", 0, 6) === "ARROW1") return "arrow";
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  return undefined;
}

/** The first `limit` bytes of the decompressed content, and whether that is all of it. */
async function gunzipHead(data: Buffer, limit: number): Promise<{ bytes: Buffer; whole: boolean }> {
  return new Promise((resolve) => {
    const gunzip = createGunzip();
    const parts: Buffer[] = [];
    let length = 0;
    let settled = false;
    const settle = (whole: boolean) => {
      if (settled) return;
      settled = true;
      const bytes = Buffer.concat(parts);
      resolve({ bytes: bytes.subarray(0, limit), whole: whole && bytes.length <= limit });
      gunzip.destroy();
    };
    gunzip.on("data", (c: Buffer) => {
      parts.push(c);
      length += c.length;
      if (length > limit) settle(false);
    });
    gunzip.on("end", () => settle(true));
    // A truncated or damaged stream still gives what came before the damage.
    gunzip.on("error", () => settle(false));
    gunzip.end(data);
  });
}

/** Whole lines only: a cut CSV ends at its last line break. */
function wholeLines(bytes: Buffer): Buffer {
  const nl = bytes.lastIndexOf(0x0a);
  return nl < 0 ? bytes : bytes.subarray(0, nl + 1);
}

function tsvToCsv(text: string): string {
  let out = "";
  for (const line of text.split(/\r?\n/)) if (line !== "") out += csvLine(line.split("\t"));
  return out;
}


export interface BlobToCheck {
  /** The path in the repository, for messages and for the format its name promises. */
  path: string;
  head: Buffer;
  /** Whether `head` is the whole blob. */
  whole: boolean;
  size: number;
}

export interface ContentOutcome {
  findings: ContentFinding[];
  /** Why the blob could not be checked, when it could not. */
  skipped?: string;
}

/** Checks one blob; `scratch` is a folder for the temporary files. */
export async function checkContent(blob: BlobToCheck, scratch: string, limit: number = DEFAULT_CONTENT_LIMIT): Promise<ContentOutcome> {
  const byName = formatByName(blob.path);
  let magic = formatByMagic(blob.head);
  let bytes = blob.head;
  let whole = blob.whole;
  const gzipped = magic === "gzip";
  if (gzipped) {
    ({ bytes, whole } = await gunzipHead(blob.head, limit));
    whole = whole && blob.whole;
    magic = formatByMagic(bytes);
  }
  if (magic === "parquet" || magic === "arrow") return checkColumnar(blob, bytes, whole, magic, scratch, limit);
  if (byName === "parquet" || byName === "arrow") {
    const kind = byName === "parquet" ? "Parquet" : "Arrow";
    return {
      findings: [{ rule: "patient_level", message: `named as a ${kind} file, but not one (its first bytes are not ${kind}'s): not checked; a binary table in a repository is usually a dataset: look at it` }],
    };
  }
  if (byName !== "csv" && byName !== "tsv") return { findings: [] };
  const cut = whole ? bytes : wholeLines(bytes);
  const text = cut.toString("utf8");
  if (text.includes("\u0000")) return { findings: [], skipped: "binary content, not a table" };
  const csv = byName === "tsv" ? tsvToCsv(text) : text;
  const partial = whole ? "" : ` (in its first ${formatBytes(cut.length)}${gzipped ? " decompressed" : ""}: the rest was not read)`;
  return checkCsvText(csv, scratch, partial);
}

let counter = 0;

async function checkCsvText(csv: string, scratch: string, partial: string): Promise<ContentOutcome> {
  // The checker judges a file by its extension: the copy is always .csv.
  const file = path.join(scratch, `${++counter}.csv`);
  fs.writeFileSync(file, csv);
  try {
    const results = await checkFiles([file], { threshold: DEFAULT_THRESHOLD });
    const failures = results.files[0]?.failures ?? [];
    const patient = failures.find((f) => f.rule === "patient_level");
    if (patient !== undefined) return { findings: [{ rule: "patient_level", message: `looks like patient-level data (sdc check's patient_level rule: ${patient.message})${partial}` }] };
    const small = failures.filter((f) => f.rule === "small_count");
    if (small.length === 0) return { findings: [] };
    const examples = small
      .slice(0, 3)
      .map((f) => `row ${f.row}, column ${JSON.stringify(f.column)}: ${f.value}`)
      .join("; ");
    const cells = small.length === 1 ? "a cell holds a count" : `${small.length} cells hold counts`;
    return { findings: [{ rule: "small_count", message: `${cells} of 1 to ${DEFAULT_THRESHOLD} (sdc check's small_count rule: ${examples}${small.length > 3 ? "; ..." : ""})${partial}` }] };
  } catch (e) {
    if (e instanceof SdcInputError) return { findings: [], skipped: e.message.replace(file, "it") };
    throw e;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function checkColumnar(blob: BlobToCheck, bytes: Buffer, whole: boolean, kind: "parquet" | "arrow", scratch: string, limit: number): Promise<ContentOutcome> {
  const name = kind === "parquet" ? "Parquet" : "Arrow";
  const unread = (why: string): ContentOutcome => ({
    findings: [{ rule: "patient_level", message: `a ${name} file ${why}: not checked; a binary table in a repository is usually a dataset: look at it` }],
  });
  if (!whole) return unread(`of ${formatBytes(blob.size)}, more than the ${formatBytes(limit)} the content rules read`);
  const file = path.join(scratch, `${++counter}.${kind}`);
  fs.writeFileSync(file, bytes);
  let table: { columns: string[]; rows: (string | null)[][] };
  try {
    table = await readColumnarCells(file, kind, (problem) => new Error(problem));
  } catch (e) {
    return unread(`that cannot be read (${(e as Error).message.split("\n")[0]})`);
  } finally {
    fs.rmSync(file, { force: true });
  }
  let csv = csvLine(table.columns);
  for (const row of table.rows) csv += csvLine(row.map((v) => v ?? ""));
  return checkCsvText(csv, scratch, "");
}
