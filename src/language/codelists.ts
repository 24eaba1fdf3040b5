// Codelists: codes read from a CSV file, as an array of codes or (with a
// category column) an object of code → category, exactly as ehrQL's list and
// dict. Each code remembers the file and line it came from, so that a code that
// is not valid for the column it is used with is reported where it is written.

import * as fs from "node:fs";
import * as path from "node:path";
import { loadContext } from "./context.js";
import { EnclaveError } from "./errors.js";

const locations = new WeakMap<object, Map<string, string>>();

/** Where a code of this codelist was read from ("codelists/x.csv, line 4"), if known. */
export function codeLocation(codelist: object, code: string): string | undefined {
  return locations.get(codelist)?.get(code);
}
export function locate(codelist: object, code: string, where: string): void {
  let m = locations.get(codelist);
  if (!m) locations.set(codelist, (m = new Map()));
  m.set(code, where);
}

export interface CodelistOptions {
  /** The column holding the codes. */
  column: string;
  /** A column of categories: the codelist becomes an object of code → category. */
  categoryColumn?: string;
}

export function codelistFromCsv(file: string, options: CodelistOptions & { categoryColumn: string }): Record<string, string>;
export function codelistFromCsv(file: string, options: CodelistOptions): string[];
export function codelistFromCsv(file: string, options: CodelistOptions): string[] | Record<string, string> {
  if (typeof file !== "string" || file === "") throw new EnclaveError("codelistFromCsv(): give the path of a CSV file");
  if (typeof options !== "object" || options === null || typeof options.column !== "string") {
    throw new EnclaveError(`codelistFromCsv(${JSON.stringify(file)}): give the code column, as { column: "code" }`);
  }
  const full = path.resolve(loadContext().definitionDir, file);
  const shown = path.relative(process.cwd(), full) || file;
  if (file.includes("\\")) throw new EnclaveError(`codelistFromCsv(): use forward slashes in paths: ${JSON.stringify(file)}`);
  let text: string;
  try {
    text = fs.readFileSync(full, "utf8");
  } catch {
    throw new EnclaveError(`codelistFromCsv(): no CSV file at ${shown}`);
  }
  const rows = parseCsv(text, shown);
  const header = rows[0]?.cells ?? [];
  const col = header.indexOf(options.column);
  if (col < 0) throw new EnclaveError(`${shown}: no column ${JSON.stringify(options.column)} (columns: ${header.join(", ")})`);
  const catCol = options.categoryColumn === undefined ? -1 : header.indexOf(options.categoryColumn);
  if (options.categoryColumn !== undefined && catCol < 0) {
    throw new EnclaveError(`${shown}: no category column ${JSON.stringify(options.categoryColumn)} (columns: ${header.join(", ")})`);
  }
  const codes = new Map<string, { category: string; line: number }>();
  for (const row of rows.slice(1)) {
    const code = (row.cells[col] ?? "").trim();
    if (code === "") continue; // blank codes are dropped, as ehrQL does
    codes.set(code, { category: catCol >= 0 ? (row.cells[catCol] ?? "").trim() : "", line: row.line });
  }
  const result: string[] | Record<string, string> = catCol >= 0 ? Object.fromEntries([...codes].map(([c, v]) => [c, v.category])) : [...codes.keys()];
  for (const [c, v] of codes) locate(result, c, `${shown}, line ${v.line}`);
  return result;
}

/** A small RFC 4180 reader: rows of cells, each with the line it starts on. */
function parseCsv(text: string, file: string): { cells: string[]; line: number }[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = "";
  let line = 1;
  let rowLine = 1;
  let i = 0;
  let quoted = false;
  let any = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else {
        if (ch === "\n") line++;
        cell += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && cell === "") {
      quoted = true;
      any = true;
    } else if (ch === ",") {
      cells.push(cell);
      cell = "";
      any = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      if (any || cell !== "") rows.push({ cells: [...cells, cell], line: rowLine });
      cells = [];
      cell = "";
      any = false;
      line++;
      rowLine = line;
    } else {
      cell += ch;
      any = true;
    }
    i++;
  }
  if (quoted) throw new EnclaveError(`${file}, line ${rowLine}: a quoted cell is never closed`);
  if (any || cell !== "") rows.push({ cells: [...cells, cell], line: rowLine });
  return rows;
}
