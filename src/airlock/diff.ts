// What changed between the version of a file the checkers reviewed and the
// one resubmitted: the reference's "known weakness" of Airlock, where checkers
// had to compare by eye. Lines (of text, or rows of a CSV) are aligned by
// Myers' shortest edit script; in a CSV, rows removed and added at the same
// place are then paired up, and compared cell by cell under the new header.

// ---------------------------------------------------------------------------
// THE EDIT SCRIPT

export type Edit = { op: "same"; a: number; b: number } | { op: "del"; a: number } | { op: "add"; b: number };

/**
 * Beyond this many differences the search stops and the unmatched middle is
 * reported as removed and added whole: a file rewritten from end to end needs
 * no minimal script, and the search would cost time quadratic in its size.
 */
const MAX_EDITS = 2000;

/** The edits that turn `a` into `b`, in order; common lines at both ends are matched first. */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const edits: Edit[] = [];
  for (let i = 0; i < start; i++) edits.push({ op: "same", a: i, b: i });
  const middle = myers(a, b, start, endA, start, endB) ?? wholesale(start, endA, start, endB);
  edits.push(...middle);
  for (let i = 0; endA + i < a.length; i++) edits.push({ op: "same", a: endA + i, b: endB + i });
  return edits;
}

function wholesale(a0: number, a1: number, b0: number, b1: number): Edit[] {
  const out: Edit[] = [];
  for (let i = a0; i < a1; i++) out.push({ op: "del", a: i });
  for (let j = b0; j < b1; j++) out.push({ op: "add", b: j });
  return out;
}

/** Myers' O((N+M)D) search on a[a0..a1) and b[b0..b1); undefined past MAX_EDITS. */
function myers(a: readonly string[], b: readonly string[], a0: number, a1: number, b0: number, b1: number): Edit[] | undefined {
  const n = a1 - a0;
  const m = b1 - b0;
  if (n === 0 || m === 0) return wholesale(a0, a1, b0, b1);
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d][k + d]: the furthest x on diagonal k after d edits (kept only for |k| <= d).
  const trace: Int32Array[] = [];
  for (let d = 0; d <= Math.min(max, MAX_EDITS); d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[a0 + x] === b[b0 + y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        trace.push(v.slice(offset - d, offset + d + 1));
        return backtrack(trace, n, m, a0, b0);
      }
    }
    trace.push(v.slice(offset - d, offset + d + 1));
  }
  return undefined;
}

function backtrack(trace: Int32Array[], n: number, m: number, a0: number, b0: number): Edit[] {
  const out: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1]!;
    const at = (k: number) => prev[k + d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const pk = down ? k + 1 : k - 1;
    const px = at(pk);
    const py = px - pk;
    while (x > px && y > py) {
      out.push({ op: "same", a: a0 + x - 1, b: b0 + y - 1 });
      x--;
      y--;
    }
    if (down) {
      out.push({ op: "add", b: b0 + y - 1 });
      y--;
    } else {
      out.push({ op: "del", a: a0 + x - 1 });
      x--;
    }
  }
  while (x > 0 && y > 0) {
    out.push({ op: "same", a: a0 + x - 1, b: b0 + y - 1 });
    x--;
    y--;
  }
  return out.reverse();
}

// ---------------------------------------------------------------------------
// CSV: ROWS, THEN CELLS

export interface Table {
  header: string[];
  rows: string[][];
}

export interface CellChange {
  value: string;
  /** The value before, when the cell changed (undefined: unchanged, or the row or column is new). */
  before?: string;
  changed: boolean;
}

export interface RowChange {
  kind: "added" | "removed" | "changed";
  /** Data rows count from 1, as the automated check counts them. */
  oldRow: number | null;
  newRow: number | null;
  /** One per column of `TableDiff.columns`. */
  cells: CellChange[];
}

export interface TableDiff {
  /** The new header, then the columns that were removed. */
  columns: { name: string; status: "same" | "added" | "removed" }[];
  rows: RowChange[];
  unchangedRows: number;
}

export function diffTables(before: Table, after: Table): TableDiff {
  const oldIndex = new Map<string, number>();
  before.header.forEach((h, i) => {
    if (!oldIndex.has(h)) oldIndex.set(h, i);
  });
  const newNames = new Set(after.header);
  const columns: TableDiff["columns"] = [
    ...after.header.map((name) => ({ name, status: oldIndex.has(name) ? ("same" as const) : ("added" as const) })),
    ...before.header.filter((h) => !newNames.has(h)).map((name) => ({ name, status: "removed" as const })),
  ];
  const newIndex = new Map<string, number>();
  after.header.forEach((h, i) => {
    if (!newIndex.has(h)) newIndex.set(h, i);
  });
  const oldCell = (row: readonly string[] | undefined, name: string): string | undefined => {
    const i = oldIndex.get(name);
    return row === undefined || i === undefined ? undefined : (row[i] ?? "");
  };
  const newCell = (row: readonly string[] | undefined, name: string): string | undefined => {
    const i = newIndex.get(name);
    return row === undefined || i === undefined ? undefined : (row[i] ?? "");
  };
  const cellsOf = (o: readonly string[] | undefined, n: readonly string[] | undefined): CellChange[] =>
    columns.map(({ name, status }) => {
      const was = oldCell(o, name);
      const now = newCell(n, name);
      if (o === undefined || n === undefined || status !== "same") return { value: now ?? was ?? "", changed: false };
      return was === now ? { value: now ?? "", changed: false } : { value: now ?? "", before: was, changed: true };
    });

  // Rows are compared on their cells as a whole; \u001f cannot be typed into a CSV by accident.
  const key = (r: readonly string[]) => r.join("\u001f");
  const edits = diffLines(before.rows.map(key), after.rows.map(key));
  const rows: RowChange[] = [];
  let unchangedRows = 0;
  let dels: number[] = [];
  let adds: number[] = [];
  const flush = () => {
    const paired = Math.min(dels.length, adds.length);
    for (let i = 0; i < paired; i++) {
      const cells = cellsOf(before.rows[dels[i]!], after.rows[adds[i]!]);
      // Different only in a removed or added column: the row itself did not change.
      if (cells.some((c) => c.changed) || columns.every((c) => c.status === "same")) rows.push({ kind: "changed", oldRow: dels[i]! + 1, newRow: adds[i]! + 1, cells });
      else unchangedRows++;
    }
    for (const d of dels.slice(paired)) rows.push({ kind: "removed", oldRow: d + 1, newRow: null, cells: cellsOf(before.rows[d], undefined) });
    for (const a of adds.slice(paired)) rows.push({ kind: "added", oldRow: null, newRow: a + 1, cells: cellsOf(undefined, after.rows[a]) });
    dels = [];
    adds = [];
  };
  for (const e of edits) {
    if (e.op === "same") {
      flush();
      unchangedRows++;
    } else if (e.op === "del") dels.push(e.a);
    else adds.push(e.b);
  }
  flush();
  return { columns, rows, unchangedRows };
}

// ---------------------------------------------------------------------------
// TEXT: HUNKS WITH CONTEXT

export interface Hunk {
  lines: { op: "same" | "del" | "add"; text: string; oldLine: number | null; newLine: number | null }[];
}

/** The changed lines with `context` unchanged lines around each change, in hunks. */
export function textHunks(before: string, after: string, context = 3): Hunk[] {
  const a = splitLines(before);
  const b = splitLines(after);
  const edits = diffLines(a, b);
  const keep = new Array<boolean>(edits.length).fill(false);
  edits.forEach((e, i) => {
    if (e.op === "same") return;
    for (let j = Math.max(0, i - context); j <= Math.min(edits.length - 1, i + context); j++) keep[j] = true;
  });
  const hunks: Hunk[] = [];
  let current: Hunk | undefined;
  edits.forEach((e, i) => {
    if (!keep[i]) {
      current = undefined;
      return;
    }
    if (!current) hunks.push((current = { lines: [] }));
    if (e.op === "same") current.lines.push({ op: "same", text: a[e.a]!, oldLine: e.a + 1, newLine: e.b + 1 });
    else if (e.op === "del") current.lines.push({ op: "del", text: a[e.a]!, oldLine: e.a + 1, newLine: null });
    else current.lines.push({ op: "add", text: b[e.b]!, oldLine: null, newLine: e.b + 1 });
  });
  return hunks;
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}
