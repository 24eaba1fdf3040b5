// How a file looks to the people in Airlock: CSV as a table that sorts and
// filters (through the query string, so without JavaScript), under a summary
// of each column with the figures an output checker looks for; the automated
// check's failing cells marked in place; images by <img> from a same-origin
// URL that is served sandboxed; text and logs (with their colours) as text;
// and, for a file resubmitted after review, what changed since.
//
// Nothing of a file's content is ever put into a page as markup: every value
// goes through the escaping of `html` (or escapeHtml, for the big tables,
// where building 50,000 SafeHtml objects would cost more than the page).

import type { Failure } from "../sdc/check.js";
import { parseTable } from "../sdc/inputs.js";
import { type HtmlValue, SafeHtml, escapeHtml, html } from "../jobserver/http.js";
import { type Table, type TableDiff, diffTables, textHunks } from "./diff.js";
import type { CheckVerdict } from "./model.js";
import { extension } from "./workflow.js";

// ---------------------------------------------------------------------------
// WHAT A FILE IS

export type FileKindShown = "csv" | "image" | "html" | "log" | "text" | "other";

export function kindOf(p: string): FileKindShown {
  const ext = extension(p);
  if (ext === ".csv") return "csv";
  if ([".png", ".jpg", ".jpeg", ".svg", ".svgz"].includes(ext)) return "image";
  if (ext === ".html") return "html";
  if (ext === ".log") return "log";
  if ([".txt", ".md", ".json"].includes(ext)) return "text";
  return "other";
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".csv": "text/csv; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".svgz": "image/svg+xml",
};

/** The headers of a file's raw bytes: its type, and the sandbox that keeps active content (an SVG's script, an HTML page's) from acting as this site. */
export function rawHeaders(p: string, disposition: "inline" | "attachment"): Record<string, string> {
  const ext = extension(p);
  const base = p.slice(p.lastIndexOf("/") + 1);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const headers: Record<string, string> = {
    "Content-Type": CONTENT_TYPES[ext] ?? "application/octet-stream",
    "Content-Disposition": `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`,
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'",
    // The sandboxed HTML report is shown in a frame of Airlock's own page, and nowhere else.
    "X-Frame-Options": "SAMEORIGIN",
  };
  if (ext === ".svgz") headers["Content-Encoding"] = "gzip";
  return headers;
}

// ---------------------------------------------------------------------------
// THE COLUMN SUMMARY

/** What the reference counts as redacted: what suppression leaves in a cell. */
const REDACTED_VALUES = new Set(["[redacted]", "redacted", "na", "<=7"]);
const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

export const isRedactedValue = (v: string): boolean => REDACTED_VALUES.has(v.trim().toLowerCase());
export const isMissingValue = (v: string): boolean => v.trim() === "";

export interface ColumnSummary {
  name: string;
  /** Of the values that are neither missing nor redacted. */
  type: "integer" | "decimal" | "text" | "empty";
  missing: number;
  redacted: number;
  /** The numeric figures: null for a column that is not numeric. */
  min: number | null;
  minNonZero: number | null;
  max: number | null;
  sum: number | null;
  divisibleBy5: boolean | null;
  /** Every value 0 or ceil(n/6)*6-3 for some n (3, 9, 15, ...). */
  midpoint6: boolean | null;
}

export function summarise(table: Table): ColumnSummary[] {
  return table.header.map((name, j) => {
    let missing = 0;
    let redacted = 0;
    let values = 0;
    let integers = true;
    let numeric = true;
    let min = Infinity;
    let minNonZero = Infinity;
    let max = -Infinity;
    let sum = 0;
    let by5 = true;
    let mid6 = true;
    for (const row of table.rows) {
      const v = row[j] ?? "";
      if (isMissingValue(v)) {
        missing++;
        continue;
      }
      if (isRedactedValue(v)) {
        redacted++;
        continue;
      }
      values++;
      if (!numeric) continue;
      const t = v.trim();
      if (!NUMBER.test(t)) {
        numeric = false;
        continue;
      }
      const n = Number(t);
      if (!Number.isInteger(n)) integers = false;
      if (n < min) min = n;
      if (n !== 0 && n < minNonZero) minNonZero = n;
      if (n > max) max = n;
      sum += n;
      if (n % 5 !== 0) by5 = false;
      if (!(n === 0 || (Number.isInteger(n) && n > 0 && n % 6 === 3))) mid6 = false;
    }
    const type = values === 0 ? "empty" : !numeric ? "text" : integers ? "integer" : "decimal";
    const num = type === "integer" || type === "decimal";
    return {
      name,
      type,
      missing,
      redacted,
      min: num ? min : null,
      minNonZero: num && minNonZero !== Infinity ? minNonZero : null,
      max: num ? max : null,
      sum: num ? sum : null,
      divisibleBy5: num ? by5 : null,
      midpoint6: num ? mid6 : null,
    };
  });
}

/** A number as a checker reads it: whole numbers in full, others to 10 significant digits (no floating-point noise). */
export function formatNumber(n: number | null): string {
  if (n === null) return "";
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(10)));
}

// ---------------------------------------------------------------------------
// SORTING AND FILTERING, FROM THE QUERY STRING

export interface TableQuery {
  sort?: string;
  dir: "asc" | "desc";
  /** Column (empty: any column) and the text its cells must contain, case aside. */
  filters: { column: string; text: string }[];
}

/**
 * `?sort=col&dir=asc&filter=col:text` (filters repeat; `filter=:text` looks in
 * every column). A form without JavaScript sends `fcol` and `ftext` instead,
 * which mean the same as one more filter. A column name that itself holds a
 * colon is found by matching the longest known name first.
 */
export function readTableQuery(q: URLSearchParams, header: readonly string[]): TableQuery {
  const names = [...header].sort((a, b) => b.length - a.length);
  const filters: TableQuery["filters"] = [];
  for (const f of q.getAll("filter")) {
    const column = names.find((n) => f.startsWith(`${n}:`)) ?? (f.startsWith(":") ? "" : undefined);
    if (column === undefined) continue;
    const text = f.slice(column.length + 1);
    if (text !== "") filters.push({ column, text });
  }
  const ftext = q.get("ftext") ?? "";
  const fcol = q.get("fcol") ?? "";
  if (ftext !== "" && (fcol === "" || header.includes(fcol))) filters.push({ column: fcol, text: ftext });
  const sort = q.get("sort") ?? undefined;
  return { sort: sort !== undefined && header.includes(sort) ? sort : undefined, dir: q.get("dir") === "desc" ? "desc" : "asc", filters };
}

/** The data rows to show, as indexes into table.rows, filtered then sorted (stable). */
export function selectRows(table: Table, query: TableQuery): number[] {
  const cols = query.filters.map((f) => ({ j: f.column === "" ? -1 : table.header.indexOf(f.column), text: f.text.toLowerCase() }));
  const out: number[] = [];
  table.rows.forEach((row, i) => {
    const ok = cols.every(({ j, text }) => (j < 0 ? row.some((c) => c.toLowerCase().includes(text)) : (row[j] ?? "").toLowerCase().includes(text)));
    if (ok) out.push(i);
  });
  if (query.sort === undefined) return out;
  const j = table.header.indexOf(query.sort);
  const sign = query.dir === "desc" ? -1 : 1;
  // Numbers before text, and missing or redacted cells last whichever the direction.
  const keyed = out.map((i) => {
    const v = table.rows[i]![j] ?? "";
    const t = v.trim();
    const blank = isMissingValue(v) || isRedactedValue(v);
    return { i, blank, num: !blank && NUMBER.test(t) ? Number(t) : null, text: t.toLowerCase() };
  });
  keyed.sort((a, b) => {
    if (a.blank !== b.blank) return a.blank ? 1 : -1;
    if (a.blank) return a.i - b.i;
    if (a.num !== null && b.num !== null) return a.num !== b.num ? sign * (a.num - b.num) : a.i - b.i;
    if (a.num !== null) return -1;
    if (b.num !== null) return 1;
    return a.text < b.text ? -sign : a.text > b.text ? sign : a.i - b.i;
  });
  return keyed.map((k) => k.i);
}

// ---------------------------------------------------------------------------
// RENDERING

/** Makes the links of a viewer: the page's own address, with these query parameters changed. */
export type LinkTo = (params: Record<string, string | string[] | undefined>) => string;

export function linker(pathname: string, keep: URLSearchParams): LinkTo {
  return (params) => {
    const q = new URLSearchParams(keep);
    for (const [k, v] of Object.entries(params)) {
      q.delete(k);
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
    }
    const s = q.toString();
    return s === "" ? pathname : `${pathname}?${s}`;
  };
}

const yesNo = (b: boolean | null): SafeHtml => (b === null ? html`<span class="muted">not numeric</span>` : html`${b ? "yes" : "no"}`);

function summaryTable(summary: readonly ColumnSummary[]): SafeHtml {
  return html`<div class="table-wrap" role="region" aria-labelledby="summary-heading" tabindex="0">
<table class="summary">
<caption>One row per column of the file</caption>
<thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Missing</th><th scope="col">Redacted</th><th scope="col">Min</th><th scope="col">Min non-zero</th><th scope="col">Max</th><th scope="col">Sum</th><th scope="col">All divisible by 5</th><th scope="col">All midpoint-6 rounded</th></tr></thead>
<tbody>${summary.map(
    (c) =>
      html`<tr><th scope="row"><code>${c.name}</code></th><td>${c.type}</td><td>${c.missing}</td><td>${c.redacted}</td><td>${formatNumber(c.min)}</td><td>${formatNumber(c.minNonZero)}</td><td>${formatNumber(c.max)}</td><td>${formatNumber(c.sum)}</td><td>${yesNo(c.divisibleBy5)}</td><td>${yesNo(c.midpoint6)}</td></tr>`,
  )}</tbody>
</table></div>`;
}

function checkSummary(check: CheckVerdict | null): SafeHtml {
  if (check === null) return html``;
  const word = { pass: "passed", fail: "failed", review: "needs a person's review", error: "could not be run" }[check.status];
  const whole = check.failures.filter((f) => f.row === null);
  return html`<section aria-labelledby="check-heading"><h2 id="check-heading">Automated disclosure check</h2>
<p class="verdict verdict-${check.status}"><span aria-hidden="true">${check.status === "pass" ? "✓" : check.status === "fail" ? "✗" : "!"}</span> The check ${word}${check.failures.length > 0 ? html`, with ${check.failures.length} finding${check.failures.length === 1 ? "" : "s"}` : ""}.${check.message ? html` ${check.message}` : ""}</p>
${whole.length > 0 ? html`<ul>${whole.map((f) => html`<li><strong>${f.rule}</strong>${f.column ? html` (column <code>${f.column}</code>)` : ""}: ${f.message}</li>`)}</ul>` : ""}
${check.failures.some((f) => f.row !== null) ? html`<p>Cells it found are marked <span class="flag">⚑</span> in the table below.</p>` : ""}
</section>`;
}

/** The most rows put into one page; filtering narrows a longer file. */
export const MAX_ROWS_SHOWN = 20_000;

export interface CsvOptions {
  query: URLSearchParams;
  link: LinkTo;
  check: CheckVerdict | null;
}

/** A CSV file: the check's verdict, the column summary, then the table. */
export function renderCsv(name: string, bytes: Buffer, options: CsvOptions): SafeHtml {
  let table: Table;
  try {
    table = parseTable(name, bytes);
  } catch (e) {
    return html`${checkSummary(options.check)}<p class="problems" role="alert">${(e as Error).message}. It is shown as text instead.</p>${renderText(bytes)}`;
  }
  const q = readTableQuery(options.query, table.header);
  const shown = selectRows(table, q);
  const failing = new Map<string, Failure[]>();
  for (const f of options.check?.failures ?? []) {
    if (f.row === null) continue;
    const key = `${f.row}\u0000${f.column ?? ""}`;
    failing.set(key, [...(failing.get(key) ?? []), f]);
  }
  const filterParams = options.query.getAll("filter");
  const sortLink = (col: string): string => options.link({ sort: col, dir: q.sort === col && q.dir === "asc" ? "desc" : "asc" });
  const ariaSort = (col: string): string => (q.sort === col ? (q.dir === "asc" ? "ascending" : "descending") : "none");

  // The rows are built as strings, escaped cell by cell: the page's largest part by far.
  const body: string[] = [];
  const limit = Math.min(shown.length, MAX_ROWS_SHOWN);
  for (let s = 0; s < limit; s++) {
    const i = shown[s]!;
    const row = table.rows[i]!;
    const rowFails = failing.get(`${i + 1}\u0000`);
    let line = `<tr${rowFails ? ' class="fail-row"' : ""}><th scope="row">${i + 1}${rowFails ? flag(rowFails) : ""}</th>`;
    for (let j = 0; j < table.header.length; j++) {
      const v = row[j] ?? "";
      const fails = failing.get(`${i + 1}\u0000${table.header[j]}`);
      line += fails ? `<td class="fail">${flag(fails)} ${escapeHtml(v)}</td>` : `<td>${escapeHtml(v)}</td>`;
    }
    body.push(`${line}</tr>`);
  }
  const status = [
    `Showing ${limit === table.rows.length ? `all ${table.rows.length}` : `${limit} of ${table.rows.length}`} rows`,
    q.filters.length > 0 ? ` matching ${q.filters.map((f) => `${f.column === "" ? "any column" : f.column} containing “${f.text}”`).join(" and ")}` : "",
    q.sort ? `, sorted by ${q.sort} (${q.dir === "asc" ? "ascending" : "descending"})` : "",
    shown.length > MAX_ROWS_SHOWN ? `; only the first ${MAX_ROWS_SHOWN} are shown: filter to see the rest` : "",
    ".",
  ].join("");
  return html`${checkSummary(options.check)}
<section aria-labelledby="summary-heading"><h2 id="summary-heading">Column summary</h2>
<p>Redacted counts the cells holding <code>[REDACTED]</code>, <code>redacted</code>, <code>NA</code> or <code>&lt;=7</code>; missing counts the empty ones. The figures leave both out.</p>
${summaryTable(summarise(table))}</section>
<section aria-labelledby="table-heading"><h2 id="table-heading">Table</h2>
<form method="get" class="filters" role="search" aria-label="Filter the table">
${[...options.query.entries()].filter(([k]) => !["fcol", "ftext", "filter", "sort", "dir"].includes(k)).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
${q.sort ? html`<input type="hidden" name="sort" value="${q.sort}"><input type="hidden" name="dir" value="${q.dir}">` : ""}
${filterParams.map((f) => html`<input type="hidden" name="filter" value="${f}">`)}
<div><label for="fcol">Column</label><select id="fcol" name="fcol"><option value="">any column</option>${table.header.map((h) => html`<option value="${h}">${h}</option>`)}</select></div>
<div><label for="ftext">Contains</label><input id="ftext" name="ftext" size="16"></div>
<div><button type="submit">Filter</button>${q.filters.length > 0 || q.sort ? html` <a href="${options.link({ filter: undefined, fcol: undefined, ftext: undefined, sort: undefined, dir: undefined })}">Clear sorting and filters</a>` : ""}</div>
</form>
<p role="status">${status} Select a column's name to sort by it.</p>
<div class="table-wrap sticky" role="region" aria-labelledby="table-heading" tabindex="0">
<table class="data">
<caption>${name}${q.sort ? `, sorted by ${q.sort} (${q.dir === "asc" ? "ascending" : "descending"})` : ""}</caption>
<thead><tr><th scope="col">Row</th>${table.header.map((h) => {
    const colFails = (options.check?.failures ?? []).filter((f) => f.row === null && f.column === h);
    return html`<th scope="col" aria-sort="${ariaSort(h)}"${colFails.length > 0 ? html` class="fail"` : ""}><a href="${sortLink(h)}">${h}${q.sort === h ? html` <span aria-hidden="true">${q.dir === "asc" ? "▲" : "▼"}</span>` : ""}</a>${colFails.length > 0 ? new SafeHtml(flag(colFails)) : ""}</th>`;
  })}</tr></thead>
<tbody>${new SafeHtml(body.join("\n"))}</tbody>
</table></div></section>`;
}

/** The check's mark on a cell: a glyph, with the findings in words for screen readers and in a tooltip. */
function flag(fails: readonly Failure[]): string {
  const words = fails.map((f) => `${f.rule}: ${f.message}`).join("; ");
  return `<span class="flag" title="${escapeHtml(words)}" aria-hidden="true">⚑</span><span class="visually-hidden">(the automated check flags this: ${escapeHtml(words)})</span>`;
}

export function renderText(bytes: Buffer): SafeHtml {
  return html`<pre class="file-text" tabindex="0">${bytes.toString("utf8")}</pre>`;
}

// ---------------------------------------------------------------------------
// LOGS, WITH THEIR COLOURS

// The escape character, named once: in a regular expression literal it is invisible.
const ESC = String.fromCharCode(0x1b);
const ANSI = new RegExp(`${ESC}\\[([0-9;]*)([A-Za-z])|${ESC}[@-_]`, "g");

/**
 * Text with ANSI SGR colours turned into classes (bold, the 16 foreground
 * colours); every other escape sequence is dropped. The colours only repeat
 * what the words say, so nothing is lost without them.
 */
export function renderLog(text: string): SafeHtml {
  let out = "";
  let open = false;
  let bold = false;
  let fg: number | null = null;
  let last = 0;
  const style = () => {
    if (open) out += "</span>";
    const classes = [bold ? "ansi-bold" : "", fg !== null ? `ansi-${fg}` : ""].filter((c) => c !== "");
    open = classes.length > 0;
    if (open) out += `<span class="${classes.join(" ")}">`;
  };
  for (const m of text.matchAll(ANSI)) {
    out += escapeHtml(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== "m") continue;
    const codes = (m[1] ?? "").split(";").map((c) => (c === "" ? 0 : Number(c)));
    for (const c of codes) {
      if (c === 0) {
        bold = false;
        fg = null;
      } else if (c === 1) bold = true;
      else if (c === 22) bold = false;
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) fg = c;
      else if (c === 39) fg = null;
    }
    style();
  }
  out += escapeHtml(text.slice(last));
  if (open) out += "</span>";
  return html`<pre class="file-text log" tabindex="0">${new SafeHtml(out)}</pre>`;
}

// ---------------------------------------------------------------------------
// ANY FILE

export interface ViewOptions extends CsvOptions {
  /** The same-origin address of the file's raw bytes (served sandboxed). */
  raw: string;
}

/** The file's content, as its type says. */
export function renderFile(name: string, bytes: Buffer, options: ViewOptions): SafeHtml {
  switch (kindOf(name)) {
    case "csv":
      return renderCsv(name, bytes, options);
    case "image":
      return html`${checkSummary(options.check)}<section aria-labelledby="content-heading"><h2 id="content-heading">Image</h2><figure><img src="${options.raw}" alt="${`The figure ${name}`}" class="figure"><figcaption>${name}</figcaption></figure></section>`;
    case "html":
      return html`${checkSummary(options.check)}<section aria-labelledby="content-heading"><h2 id="content-heading">Rendered page</h2>
<p>Shown in a sandbox: its scripts do not run, and it cannot reach this site.</p>
<iframe sandbox src="${options.raw}" title="${`The HTML file ${name}, rendered`}" class="html-frame"></iframe>
<details><summary>Its source</summary>${renderText(bytes)}</details></section>`;
    case "log":
      return html`${checkSummary(options.check)}<section aria-labelledby="content-heading"><h2 id="content-heading">Log</h2>${renderLog(bytes.toString("utf8"))}</section>`;
    case "text":
      return html`${checkSummary(options.check)}<section aria-labelledby="content-heading"><h2 id="content-heading">Content</h2>${renderText(bytes)}</section>`;
    default:
      return html`${checkSummary(options.check)}<p>This type of file is not shown here.</p>`;
  }
}

// ---------------------------------------------------------------------------
// WHAT CHANGED SINCE THE REVIEW

function cellDiff(c: TableDiff["rows"][number]["cells"][number]): HtmlValue {
  if (!c.changed) return html`<td>${c.value}</td>`;
  return html`<td class="changed"><del><span class="visually-hidden">was </span>${c.before ?? ""}</del> <ins><span class="visually-hidden">now </span>${c.value}</ins></td>`;
}

const ROW_WORD = { added: "added", removed: "removed", changed: "changed" } as const;

export function renderTableDiff(d: TableDiff): SafeHtml {
  const changedCols = d.columns.filter((c) => c.status !== "same");
  return html`<p>${d.rows.length === 0 && changedCols.length === 0 ? "No cell changed." : `${d.rows.filter((r) => r.kind === "changed").length} row(s) changed, ${d.rows.filter((r) => r.kind === "added").length} added, ${d.rows.filter((r) => r.kind === "removed").length} removed; ${d.unchangedRows} unchanged.`}
${changedCols.length > 0 ? html` Columns ${changedCols.map((c, i) => html`${i > 0 ? ", " : ""}<code>${c.name}</code> ${c.status}`)}.` : ""}</p>
${d.rows.length === 0
    ? ""
    : html`<div class="table-wrap sticky" role="region" aria-labelledby="diff-heading" tabindex="0"><table class="data diff">
<caption>The rows that differ: a changed cell shows its old value struck through, then the new one</caption>
<thead><tr><th scope="col">Change</th><th scope="col">Row before</th><th scope="col">Row now</th>${d.columns.map((c) => html`<th scope="col">${c.name}${c.status === "same" ? "" : html` (${c.status})`}</th>`)}</tr></thead>
<tbody>${d.rows.map((r) => html`<tr class="diff-${r.kind}"><th scope="row"><span aria-hidden="true">${r.kind === "added" ? "+" : r.kind === "removed" ? "−" : "±"}</span> ${ROW_WORD[r.kind]}</th><td>${r.oldRow ?? ""}</td><td>${r.newRow ?? ""}</td>${r.cells.map(cellDiff)}</tr>`)}</tbody>
</table></div>`}`;
}

export function renderTextDiff(before: string, after: string): SafeHtml {
  const hunks = textHunks(before, after);
  if (hunks.length === 0) return html`<p>No line changed.</p>`;
  return html`${hunks.map(
    (h) =>
      html`<pre class="file-text diff" tabindex="0">${h.lines.map((l) =>
        l.op === "same"
          ? html`<span>  ${l.text}</span>\n`
          : l.op === "del"
            ? html`<del><span aria-hidden="true">- </span><span class="visually-hidden">removed: </span>${l.text}</del>\n`
            : html`<ins><span aria-hidden="true">+ </span><span class="visually-hidden">added: </span>${l.text}</ins>\n`,
      )}</pre>`,
  )}`;
}

/** What changed from `before` (the version reviewed) to `after`: cells for a CSV, lines for text, images side by side. */
export function renderDiff(name: string, before: Buffer, after: Buffer, raw: { before: string; after: string }): SafeHtml {
  const kind = kindOf(name);
  if (kind === "csv") {
    try {
      return renderTableDiff(diffTables(parseTable(name, before), parseTable(name, after)));
    } catch {
      return renderTextDiff(before.toString("utf8"), after.toString("utf8"));
    }
  }
  if (kind === "image") {
    return html`<div class="side-by-side"><figure><img src="${raw.before}" alt="${`The figure ${name}, as reviewed before`}" class="figure"><figcaption>As reviewed before</figcaption></figure><figure><img src="${raw.after}" alt="${`The figure ${name}, now`}" class="figure"><figcaption>Now</figcaption></figure></div>`;
  }
  return renderTextDiff(before.toString("utf8"), after.toString("utf8"));
}
