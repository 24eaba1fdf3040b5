// Cell-level disclosure control: rounding, midpoint-6, primary suppression, and
// the secondary suppression that keeps a suppressed cell from being recovered
// from the rest of its table.
//
// The threat secondary suppression defends against. The totals the builders
// publish are sums of the published (rounded) cells, so they say nothing about
// suppressed cells. But the true totals of a table's rows and columns are often
// known from elsewhere (another output, a published population size), and with
// them a lone suppressed cell in a row is the row's true total minus the rest.
// So we suppress as if every true row total, column total and the grand total
// were known exactly, and the published cells were exact too: no suppressed
// cell may then be a linear function of the known numbers.
//
// For a two-way table that is a graph property. Take rows and columns as the
// vertices of a bipartite graph and each suppressed cell as an edge. The
// values the suppressed cells could take, keeping every row and column total,
// differ from the true ones by a circulation on that graph; a cell is pinned
// down exactly when no cycle passes through its edge, that is when the edge is
// a bridge. So: give every row and column with a suppressed cell a second one
// (the usual heuristic, which removes most bridges cheaply), then break each
// remaining bridge by suppressing one more cell that closes a cycle through it.
// This guards against linear algebra, not against bounds: a pair of suppressed
// cells whose sum is known still bounds each between 0 and that sum.

import { ROUNDING_MULTIPLE, SUPPRESSION_THRESHOLD, roundHalfEven } from "../engines/measures.js";

/** Why a cell is or is not published. */
export type CellStatus = "published" | "primary" | "secondary";

/** The controls applied to counts: suppression of 1..threshold, then rounding to a multiple of `rounding` (null: none). */
export interface CountControls {
  /** Counts from 1 to this are suppressed (0 stays). Default 7. */
  readonly threshold?: number;
  /** Published counts are rounded to the nearest multiple of this; null leaves them unrounded. Default 5. */
  readonly rounding?: number | null;
}

export function checkCount(n: number, fn: string): void {
  if (typeof n !== "number" || !Number.isFinite(n)) throw new TypeError(`${fn}: ${String(n)} is not a number`);
}

function checkControls(c: CountControls, fn: string): { threshold: number; rounding: number | null } {
  const threshold = c.threshold ?? SUPPRESSION_THRESHOLD;
  const rounding = c.rounding === undefined ? ROUNDING_MULTIPLE : c.rounding;
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new RangeError(`${fn}: the threshold must be a whole number of 0 or more, not ${threshold}`);
  if (rounding !== null && (!Number.isSafeInteger(rounding) || rounding < 1)) throw new RangeError(`${fn}: rounding must be a whole number of 1 or more (or null), not ${rounding}`);
  return { threshold, rounding };
}

/**
 * `n` rounded to the nearest multiple of `base` (5 by default), ties to the
 * even multiple as ehrQL rounds: 12 → 10, 13 → 15, with base 10 15 → 20 and 25 → 20.
 */
export function roundToNearest(n: number, base: number = ROUNDING_MULTIPLE): number {
  checkCount(n, "roundToNearest");
  if (!(base > 0) || !Number.isFinite(base)) throw new RangeError(`roundToNearest: the base must be a positive number, not ${base}`);
  // `+ 0` turns the -0 that rounding a small negative number gives into 0.
  return base * roundHalfEven(n / base) + 0;
}

/**
 * Midpoint-6 rounding, for rates, survival curves and life tables:
 * `ceil(n / 6) * 6 - 3` for n > 0 and 0 for 0, so 1–6 → 3, 7–12 → 9, 13–18 → 15.
 * The true count lies within [result − 2, result + 3]. Name a column so
 * rounded with the suffix `_midpoint6` (the checker looks for it).
 *
 * @example roundMidpoint6(7) // 9
 */
export function roundMidpoint6(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`roundMidpoint6: counts are whole numbers of 0 or more, not ${n}`);
  return n === 0 ? 0 : Math.ceil(n / 6) * 6 - 3;
}

/**
 * Whether a count must be suppressed on its own (primary suppression): from 1
 * to the threshold, or larger but rounding to a number from 1 to the
 * threshold (possible only when the base is larger than the threshold's
 * margin, e.g. 11 with threshold 10 and base 10: a published 10 would read as
 * a small count). Zero is never suppressed on its own.
 */
export function isSmallCount(n: number, controls: CountControls = {}): boolean {
  const { threshold, rounding } = checkControls(controls, "isSmallCount");
  checkWholeCount(n, "isSmallCount");
  if (n === 0) return false;
  if (n <= threshold) return true;
  const r = rounding === null ? n : roundToNearest(n, rounding);
  return r > 0 && r <= threshold;
}

function checkWholeCount(n: number, fn: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${fn}: counts are whole numbers of 0 or more, not ${n}`);
}

/**
 * One count made safe on its own: `null` (to be written `[REDACTED]`) when
 * {@link isSmallCount}, otherwise rounded to the base. Zero stays 0. This is
 * primary suppression only: use the table builders (or
 * {@link suppressOneWay}/{@link suppressTwoWay}) when a table has totals.
 *
 * @example [0, 5, 8, 13].map((n) => safeCount(n)) // [0, null, 10, 15]
 */
export function safeCount(n: number, controls: CountControls = {}): number | null {
  const { rounding } = checkControls(controls, "safeCount");
  checkWholeCount(n, "safeCount");
  if (isSmallCount(n, controls)) return null;
  return rounding === null ? n : roundToNearest(n, rounding);
}

/** The published value of a cell: null if suppressed, else the count rounded. */
export function publish(n: number, status: CellStatus, controls: CountControls = {}): number | null {
  const { rounding } = checkControls(controls, "publish");
  if (status !== "published") return null;
  return rounding === null ? n : roundToNearest(n, rounding);
}

// Secondary cells are taken smallest first (least information lost), but
// zeros last: a suppressed 0 beside a primary cell leaves the pair's sum equal
// to the small count, which protects little.
function cheaper(counts: readonly number[], a: number, b: number): boolean {
  const x = counts[a]!;
  const y = counts[b]!;
  if ((x === 0) !== (y === 0)) return y === 0;
  return x < y;
}

/**
 * Primary and secondary suppression of a one-way table with a total: the
 * counts from 1 to the threshold are suppressed, and if exactly one cell is,
 * the smallest other cell (zeros last) is suppressed too, so that the true
 * total, if known, gives only the sum of two suppressed cells. A table of one
 * category cannot be protected against its own true total and is left with
 * primary suppression only. Returns each cell's status.
 *
 * @example suppressOneWay([3, 40, 12, 25]) // ["primary", "published", "secondary", "published"]
 */
export function suppressOneWay(counts: readonly number[], controls: CountControls = {}): CellStatus[] {
  const status: CellStatus[] = counts.map((n) => (isSmallCount(n, controls) ? "primary" : "published"));
  protectLine(counts, status);
  return status;
}

function protectLine(counts: readonly number[], status: CellStatus[]): void {
  if (status.filter((s) => s !== "published").length !== 1) return;
  let best = -1;
  for (let i = 0; i < counts.length; i++) if (status[i] === "published" && (best < 0 || cheaper(counts, i, best))) best = i;
  if (best >= 0) status[best] = "secondary";
}

/**
 * Primary and secondary suppression of a two-way table (`counts[row][column]`)
 * whose row totals, column totals and grand total are, or may be, known.
 * Afterwards no suppressed cell is determined by the published cells and the
 * true totals (see the comment at the top of this file): every row and column
 * holding a suppressed cell holds at least two, and no suppressed cell is a
 * bridge of the row–column graph. Cells are added smallest first (zeros
 * last), preferring one that also completes a column or row with a lone
 * suppressed cell. A table with one row (or one column) is protected as the
 * one-way table it is. Returns each cell's status.
 */
export function suppressTwoWay(counts: readonly (readonly number[])[], controls: CountControls = {}): CellStatus[][] {
  const m = counts.length;
  const n = counts[0]?.length ?? 0;
  if (counts.some((r) => r.length !== n)) throw new RangeError("suppressTwoWay: every row must have the same number of cells");
  const status: CellStatus[][] = counts.map((r) => r.map((x) => (isSmallCount(x, controls) ? "primary" : "published")));
  if (m === 0 || n === 0) return status;
  if (m === 1) {
    protectLine(counts[0]!, status[0]!);
    return status;
  }
  if (n === 1) {
    const col = status.map((r) => r[0]!);
    protectLine(
      counts.map((r) => r[0]!),
      col,
    );
    col.forEach((s, i) => (status[i]![0] = s));
    return status;
  }
  const flat = counts.flat();
  const at = (i: number, j: number): CellStatus => status[i]![j]!;
  const hidden = (i: number, j: number): boolean => at(i, j) !== "published";
  const pick = (cands: [number, number][], prefer: (i: number, j: number) => boolean): [number, number] | undefined => {
    let best: [number, number] | undefined;
    for (const c of cands) {
      if (!best) best = c;
      else {
        const pc = prefer(...c);
        const pb = prefer(...best);
        if (pc !== pb ? pc : cheaper(flat, c[0] * n + c[1], best[0] * n + best[1])) best = c;
      }
    }
    return best;
  };
  const rowHidden = (i: number): number => status[i]!.filter((s) => s !== "published").length;
  const colHidden = (j: number): number => status.filter((r) => r[j] !== "published").length;

  for (;;) {
    // No suppressed cell alone in its row or column.
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = 0; i < m; i++) {
        if (rowHidden(i) !== 1) continue;
        const cands: [number, number][] = [];
        for (let j = 0; j < n; j++) if (!hidden(i, j)) cands.push([i, j]);
        const c = pick(cands, (_, j) => colHidden(j) === 1)!;
        status[c[0]]![c[1]] = "secondary";
        changed = true;
      }
      for (let j = 0; j < n; j++) {
        if (colHidden(j) !== 1) continue;
        const cands: [number, number][] = [];
        for (let i = 0; i < m; i++) if (!hidden(i, j)) cands.push([i, j]);
        const c = pick(cands, (i) => rowHidden(i) === 1)!;
        status[c[0]]![c[1]] = "secondary";
        changed = true;
      }
    }
    const bridge = findBridge(status);
    if (!bridge) return status;
    // Close a cycle through the bridge: a cell joining the two sides it separates.
    const [br, bc] = bridge;
    const side = (start: number): Set<number> => reach(status, start, bridge);
    const a = side(br);
    const b = side(m + bc);
    const cands: [number, number][] = [];
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        if (hidden(i, j)) continue;
        if ((a.has(i) && b.has(m + j)) || (b.has(i) && a.has(m + j))) cands.push([i, j]);
      }
    const c = pick(cands, () => false);
    if (!c) throw new Error("suppressTwoWay: no cell closes a cycle through a bridge (a bug: please report it)");
    status[c[0]]![c[1]] = "secondary";
  }
}

// Vertices: rows 0..m-1, columns m..m+n-1; edges: suppressed cells.
function adjacency(status: readonly (readonly CellStatus[])[]): number[][] {
  const m = status.length;
  const n = status[0]!.length;
  const adj: number[][] = Array.from({ length: m + n }, () => []);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++)
      if (status[i]![j] !== "published") {
        adj[i]!.push(m + j);
        adj[m + j]!.push(i);
      }
  return adj;
}

/** The vertices reachable from `start` without crossing the edge `skip` (row, column). */
function reach(status: readonly (readonly CellStatus[])[], start: number, skip: [number, number]): Set<number> {
  const m = status.length;
  const adj = adjacency(status);
  const skipA = skip[0];
  const skipB = m + skip[1];
  const seen = new Set([start]);
  const todo = [start];
  while (todo.length) {
    const v = todo.pop()!;
    for (const w of adj[v]!) {
      if ((v === skipA && w === skipB) || (v === skipB && w === skipA) || seen.has(w)) continue;
      seen.add(w);
      todo.push(w);
    }
  }
  return seen;
}

/** A suppressed cell (row, column) that is a bridge of the row–column graph, if any (Tarjan's low-link, iteratively). */
function findBridge(status: readonly (readonly CellStatus[])[]): [number, number] | undefined {
  const m = status.length;
  const adj = adjacency(status);
  const order = new Array<number>(adj.length).fill(-1);
  const low = new Array<number>(adj.length).fill(0);
  let counter = 0;
  for (let root = 0; root < adj.length; root++) {
    if (order[root] !== -1) continue;
    // Frames: vertex, its parent, the next neighbour to look at. The graph is
    // simple (one edge per cell), so skipping the parent vertex is skipping the tree edge.
    const stack: [number, number, number][] = [[root, -1, 0]];
    order[root] = low[root] = counter++;
    while (stack.length) {
      const frame = stack[stack.length - 1]!;
      const [v, parent] = frame;
      const ns = adj[v]!;
      if (frame[2] < ns.length) {
        const w = ns[frame[2]++]!;
        if (w === parent) continue;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack.push([w, v, 0]);
        } else low[v] = Math.min(low[v]!, order[w]!);
      } else {
        stack.pop();
        if (parent >= 0) {
          low[parent] = Math.min(low[parent]!, low[v]!);
          if (low[v]! > order[parent]!) return parent < m ? [parent, v - m] : [v, parent - m];
        }
      }
    }
  }
  return undefined;
}
