// How a table's rows are drawn for one candidate patient, and made to agree
// with the patient's other tables: events fall between birth and death, a
// death registered with the ONS is on the date of death, and registrations
// and addresses follow one another rather than overlap. The patients table is
// drawn first, so that the others can see the patient's dates.

import type { Scalar } from "../querymodel/index.js";
import type { Row } from "../engines/types.js";
import type { Hints } from "./analyse.js";
import { type Chooser, Slot } from "./chooser.js";
import { type ColumnInfo, ColumnPlan, dayText, latestDay } from "./columns.js";

export interface DummyTable {
  readonly name: string;
  readonly patientLevel: boolean;
  readonly columns: readonly ColumnInfo[];
}

/** What the tables of one candidate patient must agree with: their dates of birth and death, as day numbers. */
export interface Person {
  birth: number | undefined;
  death: number | undefined;
}

// Date columns of one row that come in order (the second never before the first).
const ORDERED_DATES: readonly [string, string][] = [
  ["start_date", "end_date"],
  ["date_of_birth", "date_of_death"],
  ["admission_date", "discharge_date"],
  ["date_start", "date_end"],
];

// How many rows a patient has, before anything is learnt: a few registrations
// and addresses, a handful of events elsewhere.
const ROW_COUNTS: Record<string, readonly [number, number][]> = {
  practice_registrations: [[1, 6], [2, 3], [3, 1.5], [4, 0.5]],
  addresses: [[0, 1], [1, 5], [2, 3], [3, 1]],
};
const EVENT_COUNTS: readonly [number, number][] = [[0, 1.5], [1, 3], [2, 2.5], [3, 2], [4, 1.5], [6, 1], [10, 0.5]];

export class TablePlan {
  readonly columns: ColumnPlan[];
  private readonly ordered: [number, number][] = [];
  private readonly dateColumns: number[];
  private readonly counts: number[];
  private readonly countSlot: Slot;
  /** The patients table: where its dates of birth and death are. */
  private readonly birthAt: number;
  private readonly deathAt: number;
  /** ons_deaths beside a patients table with a date of death: its date column, and whether a death has a row. */
  private readonly deathDateAt: number;
  private readonly registeredSlot = new Slot([1, 9]);
  /** Start and end of a table of periods (registrations, addresses). */
  private readonly period: [number, number] | undefined;
  /** Where the records of the living stop: a little after the definition's latest date, as no date is drawn much later. */
  private readonly horizon: number;

  constructor(
    readonly table: DummyTable,
    hints: Hints,
    private readonly required: boolean,
    patientsHaveDeaths: boolean,
  ) {
    this.columns = table.columns.map((c) => new ColumnPlan(table.name, c, hints));
    this.horizon = latestDay(hints) + 2 * 365;
    const dateAt = (name: string): number => table.columns.findIndex((c) => c.name === name && c.type === "date");
    for (const [from, to] of ORDERED_DATES) {
      const a = dateAt(from), b = dateAt(to);
      if (a >= 0 && b >= 0) this.ordered.push([a, b]);
    }
    const isPatients = table.name === "patients";
    this.birthAt = isPatients ? dateAt("date_of_birth") : -1;
    this.deathAt = isPatients ? dateAt("date_of_death") : -1;
    this.deathDateAt = table.name === "ons_deaths" && patientsHaveDeaths ? dateAt("date") : -1;
    this.dateColumns = isPatients ? [] : this.columns.flatMap((c, i) => (c.isDate ? [i] : []));
    const start = dateAt("start_date"), end = dateAt("end_date");
    this.period = !table.patientLevel && start >= 0 && end >= 0 ? [start, end] : undefined;
    if (this.period) this.columns[start]!.ties = this.columns[end]!.ties = false;

    let options: [number, number][];
    if (table.patientLevel) {
      // Everyone has a patients record; other one-row tables (deaths, say) are for some.
      options = isPatients || required ? [[1, 1]] : [[0, 4], [1, 1]];
    } else {
      // A table the definition reads several codelists from has rows of each, for some patients.
      const codelists = Math.max(0, ...this.columns.map((c) => c.codelists));
      const scale = Math.max(1, Math.round(codelists / 3));
      const counts = new Map<number, number>(ROW_COUNTS[table.name] ?? EVENT_COUNTS.map(([n, w]) => [n * scale, w]));
      for (const n of hints.counts.get(table.name) ?? []) {
        for (const m of [n - 1, n, n + 1]) if (m >= 0 && m <= 50) counts.set(m, (counts.get(m) ?? 0) + 1);
      }
      if (required) counts.delete(0);
      options = [...counts].sort(([a], [b]) => a - b);
    }
    this.counts = options.map(([n]) => n);
    this.countSlot = new Slot(options.map(([, w]) => w));
  }

  /** Draws the patient's rows into `into`; with `consistent`, makes them agree with `person` (and, for patients, sets it). */
  rowsFor(ch: Chooser, pid: number, person: Person, into: Row[], consistent: boolean): void {
    const linked = consistent && this.deathDateAt >= 0;
    let n: number;
    if (linked) {
      // A death is (nearly always) registered; no death, no registration, unless the population needs one.
      n = person.death !== undefined ? (this.required || ch.choose(this.registeredSlot) === 1 ? 1 : 0) : this.required ? 1 : 0;
    } else n = this.counts[ch.choose(this.countSlot)]!;
    const first = into.length;
    const width = this.columns.length;
    let previous: Scalar[] | undefined;
    for (let r = 0; r < n; r++) {
      const row: Scalar[] = new Array<Scalar>(width + 1);
      row[0] = pid;
      for (let i = 0; i < width; i++) {
        // The date of an ONS death is the date of death, not a choice of its own.
        row[i + 1] = linked && i === this.deathDateAt ? (person.death ?? null) : this.columns[i]!.draw(ch, previous?.[i + 1]);
      }
      if (consistent) this.fit(row, person);
      this.order(row);
      into.push(row);
      previous = row;
    }
    if (consistent && this.period && n > 0) this.sequence(into, first, person);
    if (this.birthAt >= 0) {
      const row = into[into.length - 1];
      person.birth = (row?.[this.birthAt + 1] as number | null | undefined) ?? undefined;
      person.death = this.deathAt >= 0 ? ((row?.[this.deathAt + 1] as number | null | undefined) ?? undefined) : undefined;
    }
    for (let r = first; r < into.length; r++) {
      const row = into[r] as Scalar[];
      for (let i = 0; i < width; i++) if (this.columns[i]!.isDate && typeof row[i + 1] === "number") row[i + 1] = dayText(row[i + 1] as number);
    }
  }

  /**
   * Moves dates before birth or after death inside the patient's life (up to
   * the horizon for the living), as far from the edge as they were outside it,
   * wrapped round where that is further than the life is long.
   */
  private fit(row: Scalar[], person: Person): void {
    const { birth, death } = person;
    if (birth === undefined && death === undefined) return;
    const span = birth !== undefined ? Math.max(1, (death ?? Math.max(birth, this.horizon)) - birth + 1) : Infinity;
    for (const i of this.dateColumns) {
      const day = row[i + 1];
      if (typeof day !== "number") continue;
      let fitted = day;
      if (birth !== undefined && day < birth) fitted = birth + ((birth - day) % span);
      // A period still open at death ends then.
      else if (death !== undefined && day > death) fitted = i === this.period?.[1] ? death : death - ((day - death) % span);
      if (fitted !== day) row[i + 1] = this.columns[i]!.finishDate(fitted);
    }
  }

  /** An end before its start: swap them; a death before birth: no death. */
  private order(row: Scalar[]): void {
    for (const [a, b] of this.ordered) {
      const x = row[a + 1], y = row[b + 1];
      if (typeof x !== "number" || typeof y !== "number" || y >= x) continue;
      if (this.columns[a]!.column.constraints.firstOfMonth) row[b + 1] = this.columns[b]!.column.constraints.notNull ? x : null;
      else [row[a + 1], row[b + 1]] = [y, x];
    }
  }

  /**
   * Periods one after another: of two that start on the same day only the
   * later drawn is kept, each ends the day before the next starts, and the
   * last open one at death.
   */
  private sequence(rows: Row[], first: number, person: Person): void {
    const [s, e] = this.period!;
    const startOf = (r: readonly Scalar[]): number => (r[s + 1] as number | null) ?? -Infinity;
    const mine = (rows.slice(first) as Scalar[][]).sort((a, b) => startOf(a) - startOf(b) || 0);
    const kept = mine.filter((r, i) => i + 1 === mine.length || startOf(mine[i + 1]!) !== startOf(r));
    for (let i = 0; i < kept.length; i++) {
      const row = kept[i]!;
      const start = row[s + 1];
      if (typeof start !== "number") continue;
      const next = kept[i + 1]?.[s + 1];
      const end = row[e + 1];
      if (typeof next === "number" && (typeof end !== "number" || end >= next)) row[e + 1] = Math.max(start, next - 1);
      else if (next === undefined && person.death !== undefined && end === null) row[e + 1] = Math.max(start, person.death);
    }
    rows.length = first;
    for (const row of kept) rows.push(row);
  }
}
