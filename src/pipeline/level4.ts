// What an output file is (its size, sha256 and, for a CSV, its header and row
// count, all in one read), and whether a moderately_sensitive file may be
// copied to level 4, where researchers view outputs before asking for their
// release. The checks are OpenSAFELY's (size, extension, CSV rows, a patient_id
// column); a file that fails is replaced in level 4 by `<path>.txt` saying why,
// so that its absence is explained where the researcher looks for it.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { LEVEL4_EXTENSIONS } from "./project.js";

/** The largest file that level 4 takes: 16 MiB. */
export const LEVEL4_MAX_BYTES = 16 * 1024 * 1024;
/** The most data rows (after the header) a level 4 CSV may have. */
export const LEVEL4_MAX_CSV_ROWS = 5000;

export interface CsvShape {
  /** The column names of the header, unquoted, without a byte order mark. */
  header: string[];
  /** Data rows after the header; blank lines are not rows, a quoted line break does not end one. */
  rows: number;
  columns: number;
}

export interface FileFacts {
  size: number;
  sha256: string;
  /** For a .csv file. */
  csv?: CsvShape;
}

/** Reads a file once: its size and sha256, and its CSV shape when `csv` is set. */
export async function describeFile(file: string, options: { csv?: boolean } = {}): Promise<FileFacts> {
  const hash = createHash("sha256");
  const scanner = options.csv ? new CsvScanner() : undefined;
  let size = 0;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    scanner?.push(chunk);
  }
  const facts: FileFacts = { size, sha256: hash.digest("hex") };
  if (scanner !== undefined) facts.csv = scanner.end();
  return facts;
}

/** Whether a path names a CSV file (which gets its rows and columns counted). */
export function isCsv(file: string): boolean {
  return path.extname(file).toLowerCase() === ".csv";
}

// A CSV reader that only counts: it follows quoting as Python's csv module does
// (a quote opens a quoted field only at the start of a field; "" inside one is
// a quote; a line break inside one is part of the field), so that a quoted
// line break does not make two rows and a stray quote in a plain field does not
// swallow the rest of the file. It works on bytes: the characters that matter
// (" , CR LF) never occur inside a UTF-8 sequence, so no decoding is needed
// beyond the header.
const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

enum State {
  FieldStart,
  Plain,
  Quoted,
  QuoteInQuoted,
}

class CsvScanner {
  private state = State.FieldStart;
  private records = 0;
  private recordHasContent = false;
  // The header is the first record; its bytes are kept until it ends.
  private header: string[] | undefined;
  private field: number[] = [];
  private fields: Buffer[] = [];
  private started = false;

  push(chunk: Buffer): void {
    let i = 0;
    if (!this.started) {
      this.started = true;
      // A byte order mark (Excel writes one) is not part of the first column's name, quoted or not.
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    for (; i < chunk.length; i += 1) {
      const c = chunk[i]!;
      const inHeader = this.header === undefined;
      switch (this.state) {
        case State.FieldStart:
          if (c === QUOTE) {
            this.state = State.Quoted;
            this.recordHasContent = true;
          } else if (c === COMMA) {
            this.recordHasContent = true;
            if (inHeader) this.endField();
          } else if (c === CR || c === LF) {
            this.endRecord();
          } else {
            this.state = State.Plain;
            this.recordHasContent = true;
            if (inHeader) this.field.push(c);
          }
          break;
        case State.Plain:
          if (c === COMMA) {
            this.state = State.FieldStart;
            if (inHeader) this.endField();
          } else if (c === CR || c === LF) {
            this.endRecord();
          } else if (inHeader) {
            this.field.push(c);
          }
          break;
        case State.Quoted:
          if (c === QUOTE) this.state = State.QuoteInQuoted;
          else if (inHeader) this.field.push(c);
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            this.state = State.Quoted;
            if (inHeader) this.field.push(c);
          } else if (c === COMMA) {
            this.state = State.FieldStart;
            if (inHeader) this.endField();
          } else if (c === CR || c === LF) {
            this.endRecord();
          } else {
            this.state = State.Plain;
            if (inHeader) this.field.push(c);
          }
          break;
      }
    }
  }

  end(): CsvShape {
    // A last record without a line break (or inside an unclosed quote) still counts.
    if (this.recordHasContent) this.endRecord();
    const header = this.header ?? [];
    return { header, rows: Math.max(0, this.records - 1), columns: header.length };
  }

  private endField(): void {
    this.fields.push(Buffer.from(this.field));
    this.field = [];
  }

  private endRecord(): void {
    this.state = State.FieldStart;
    if (!this.recordHasContent) return;
    this.recordHasContent = false;
    this.records += 1;
    if (this.header === undefined) {
      this.endField();
      this.header = this.fields.map((b) => b.toString("utf8"));
      this.fields = [];
    }
  }
}

export interface Level4Check {
  /** Whether the file may be copied to level 4. */
  ok: boolean;
  /** Why not, each a short phrase for logs and the manifest ("has a patient_id column"). */
  reasons: string[];
}

/** The level 4 checks for a moderately_sensitive file: size, extension, and for a CSV its rows and a patient_id column. */
export function checkLevel4(file: string, facts: FileFacts): Level4Check {
  const reasons: string[] = [];
  if (facts.size > LEVEL4_MAX_BYTES) reasons.push(`is ${mebibytes(facts.size)}, over the limit of ${mebibytes(LEVEL4_MAX_BYTES)}`);
  const extension = path.extname(file);
  if (!LEVEL4_EXTENSIONS.includes(extension)) reasons.push(`has the extension "${extension}", which level 4 does not take (it takes ${LEVEL4_EXTENSIONS.join(" ")})`);
  if (facts.csv !== undefined) {
    // Stricter than OpenSAFELY, which compares the name exactly: " Patient_ID" is the same column to a reader.
    if (facts.csv.header.some((name) => name.trim().toLowerCase() === "patient_id")) reasons.push("has a patient_id column");
    if (facts.csv.rows > LEVEL4_MAX_CSV_ROWS) reasons.push(`has ${facts.csv.rows} rows, over the limit of ${LEVEL4_MAX_CSV_ROWS}`);
  }
  return { ok: reasons.length === 0, reasons };
}

/** The text of `<path>.txt`, which stands in level 4 for a file that failed the checks. */
export function placeholderText(file: string, reasons: readonly string[]): string {
  const advice: string[] = [];
  if (reasons.some((r) => r.includes("patient_id"))) {
    advice.push("Patient-level data is not allowed in level 4: declare the file highly_sensitive in project.yaml, or, if it holds only aggregates, leave out the patient_id column.");
  }
  if (reasons.some((r) => r.includes("rows") || r.includes("MiB"))) {
    advice.push("Level 4 holds aggregate results small enough to be checked by hand: check that the file holds only aggregates, and reduce it.");
  }
  if (reasons.some((r) => r.includes("extension"))) advice.push(`Write it in one of these formats instead: ${LEVEL4_EXTENSIONS.join(" ")}.`);
  return [
    `${file} was not copied to level 4 because it:`,
    ...reasons.map((r) => `  - ${r}`),
    "",
    ...advice,
    "",
    "It is still in level 3 (the project folder), with the action's other outputs.",
    "",
  ].join("\n");
}

/** A size in MiB with two decimals, as the checks state it. */
export function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}
