// How one column's values are drawn. Most values come from what the
// definition says about the column (see analyse.ts): its codelists, the dates
// and numbers it is compared with, the ages measured from it; the rest are
// free, for variety. Dates are day numbers (days since 1970-01-01) until the
// row is finished, so that rows can be made consistent cheaply.

import {
  type Scalar,
  type ScalarType,
  addMonths,
  checkScalar,
  formatIsoDate,
  isCodeType,
  isMultiCodeType,
  parseIsoDate,
} from "../querymodel/index.js";
import type { SynthConstraints } from "../synth/schema.js";
import { type Hints, type Offset, columnKey } from "./analyse.js";
import { type Chooser, Slot } from "./chooser.js";
import type { Random } from "./random.js";

export interface ColumnInfo {
  readonly name: string;
  readonly type: ScalarType;
  readonly constraints: SynthConstraints;
}

const DAY_1900 = parseIsoDate("1900-01-01")!;
const DAY_9999 = parseIsoDate("9999-12-31")!;
// Only for a definition that mentions no date at all: a fixed day, never today,
// so that the same seed gives the same data whenever it runs.
const DEFAULT_ANCHOR = parseIsoDate("2024-01-01")!;
/** The latest date the definition mentions: free dates are drawn before it. */
export function latestDay(hints: Hints): number {
  return hints.dates.length ? hints.dates[hints.dates.length - 1]! : DEFAULT_ANCHOR;
}
const WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"];
const DIGITS = "0123456789";
const ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const OPCS_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ";

// How often a column is NULL before anything is learnt, where records are
// usually empty: most people are alive, most registrations and addresses are
// current, and a death certificate lists only a few causes. Elsewhere 1 in 13.
// (Deaths are commoner than in life, so that a definition's death variables
// have values to test with.)
function nullPrior(table: string, column: string): [number, number] {
  if (table === "patients" && column === "date_of_death") return [4, 1];
  if ((table === "practice_registrations" || table === "addresses") && column === "end_date") return [3, 2];
  if (table === "ons_deaths" && /^cause_of_death_\d\d$/.test(column)) return [3, 1];
  return [1, 12];
}

// How common each category is, where some are rare: sex is nearly always
// recorded as female or male. Elsewhere categories are equally likely.
function categoryPrior(table: string, column: string, category: Scalar): number {
  if (table === "patients" && column === "sex") return category === "female" || category === "male" ? 24 : 1;
  return 1;
}

function chars(rng: Random, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}

function randomCode(rng: Random, type: ScalarType): string {
  switch (type) {
    case "snomedct":
    case "dmd":
      return String(rng.int(1, 9)) + chars(rng, DIGITS, rng.int(5, 9));
    case "ctv3":
      return chars(rng, ALNUM, 5);
    case "icd10":
    case "icd10multi":
      return LETTERS[rng.int(0, LETTERS.length - 1)] + chars(rng, DIGITS, rng.int(2, 3));
    case "opcs4":
    case "opcs4multi":
      return OPCS_LETTERS[rng.int(0, OPCS_LETTERS.length - 1)] + chars(rng, DIGITS, rng.int(2, 3));
    case "bnf":
      return "2" + String(rng.int(0, 3)) + chars(rng, DIGITS, 9);
    default:
      return rng.pick(WORDS);
  }
}

function shift(day: number, amount: number, unit: Offset["unit"]): number {
  if (unit === "days") return day + amount;
  const moved = addMonths(formatIsoDate(day), unit === "years" ? amount * 12 : amount);
  return moved === null ? day : parseIsoDate(moved as string)!;
}

const formatted = new Map<number, string>();
/** A day number as YYYY-MM-DD (the same few thousand days recur, so they are remembered). */
export function dayText(day: number): string {
  let s = formatted.get(day);
  if (s === undefined) {
    s = formatIsoDate(day);
    if (formatted.size < 200_000) formatted.set(day, s);
  }
  return s;
}

const UNIT_DAYS = { years: 365, months: 28, days: 1 } as const;

/** Offsets of one anchor and unit, at several amounts: the ends of ranges (ages 18 to 40, 40 to 60, ...). */
interface OffsetRange {
  readonly anchor: number;
  readonly unit: Offset["unit"];
  readonly sign: 1 | -1;
  readonly from: number;
  readonly to: number;
}

type Mode = "category" | "bool" | "offset" | "range" | "value" | "between" | "global" | "free";

/** Slots for jittering a date or number near one value: which side, and how far. */
interface Jitter {
  readonly sign: Slot;
  readonly scale: Slot;
}
const newJitter = (sign: readonly number[], scale: readonly number[]): Jitter => ({ sign: new Slot(sign), scale: new Slot(scale) });

export class ColumnPlan {
  readonly key: string;
  readonly type: ScalarType;
  readonly isDate: boolean;
  /** How many codelists (or compared codes) the definition tests the column against. */
  get codelists(): number {
    return isCodeType(this.type) || isMultiCodeType(this.type) ? this.groups.length : 0;
  }
  /** Whether a row may repeat the patient's previous row's value (not for the dates of periods, which follow one another). */
  ties = true;
  private readonly constraints: SynthConstraints;
  private readonly values: Scalar[];
  private readonly groups: Scalar[][];
  private readonly dates: number[];
  private readonly offsets: readonly Offset[];
  private readonly ranges: OffsetRange[] = [];
  private readonly globalDates: readonly number[];
  private readonly freeAnchor: number;
  private readonly modes: Mode[];

  private readonly nullSlot: Slot | undefined;
  private readonly modeSlot: Slot;
  private readonly categorySlot: Slot | undefined;
  private readonly boolSlot = new Slot([1, 1]);
  private readonly offsetSlot: Slot;
  private readonly deltaSlots: Slot[];
  private readonly rangeSlot: Slot;
  private readonly valueSlot: Slot;
  private readonly valueJitters: Jitter[];
  private readonly betweenSlot: Slot;
  private readonly groupSlot: Slot;
  private readonly groupSlots: Slot[];
  private readonly globalSlot: Slot;
  private readonly globalJitters: (Jitter | undefined)[];

  constructor(
    readonly table: string,
    readonly column: ColumnInfo,
    hints: Hints,
  ) {
    this.key = columnKey(table, column.name);
    this.type = column.type;
    this.isDate = column.type === "date";
    this.constraints = column.constraints;
    const h = hints.columns.get(this.key);
    const type = column.type;
    const cats = column.constraints.categories;
    const usable = (v: Scalar): Scalar | undefined => {
      if (type === "int" && typeof v === "number") v = Math.round(v);
      if (isMultiCodeType(type) && typeof v !== "string") return undefined;
      if (checkScalar(type, v) !== undefined) return undefined;
      if (cats && !cats.includes(v as string)) return undefined;
      return v;
    };
    const values: Scalar[] = [];
    for (const v of h?.values ?? []) {
      const u = usable(v);
      if (u !== undefined && !values.includes(u)) values.push(u);
    }
    this.values = values;
    this.groups = (h?.groups ?? []).map((g) => [...new Set(g.map(usable).filter((v): v is Scalar => v !== undefined))]).filter((g) => g.length > 0);
    this.dates = this.isDate ? [...new Set(values.map((v) => parseIsoDate(v as string)!))].sort((a, b) => a - b) : [];
    this.offsets = this.isDate ? (h?.offsets ?? []) : [];
    this.globalDates = hints.dates;
    this.freeAnchor = latestDay(hints);

    // Ranges between the amounts of offsets from one anchor, so that ages
    // spread over a band instead of bunching at its limits.
    const byAnchor = new Map<string, { o: Offset; amounts: Set<number> }>();
    for (const o of this.offsets) {
      const id = `${o.anchor}:${o.unit}:${o.sign}`;
      const entry = byAnchor.get(id) ?? { o, amounts: new Set<number>() };
      entry.amounts.add(o.amount);
      byAnchor.set(id, entry);
    }
    for (const { o, amounts } of byAnchor.values()) {
      const sorted = [...amounts].sort((a, b) => a - b);
      for (let i = 0; i + 1 < sorted.length; i++) this.ranges.push({ anchor: o.anchor, unit: o.unit, sign: o.sign, from: sorted[i]!, to: sorted[i + 1]! });
    }

    const modes: [Mode, number][] = [];
    if (cats) modes.push(["category", 1]);
    else if (this.isDate) {
      if (this.ranges.length) modes.push(["range", 4]);
      if (this.offsets.length) modes.push(["offset", this.ranges.length ? 2 : 4]);
      if (this.dates.length) modes.push(["value", 4]);
      if (this.dates.length > 1) modes.push(["between", 3]);
      // A date of birth is decades before the definition's dates, not near them.
      if (this.globalDates.length && !column.constraints.firstOfMonth) modes.push(["global", 2]);
      modes.push(["free", 1]);
    } else if (type === "bool") modes.push(["bool", 1]);
    else {
      if (values.length) modes.push(["value", isCodeType(type) || isMultiCodeType(type) ? 12 : 4]);
      modes.push(["free", 1]);
    }
    this.modes = modes.map(([m]) => m);
    this.modeSlot = new Slot(modes.map(([, w]) => w));
    this.nullSlot = column.constraints.notNull ? undefined : new Slot(nullPrior(table, column.name));
    // A category the definition mentions is three times as likely to start with.
    this.categorySlot = cats ? new Slot(cats.map((c) => categoryPrior(table, column.name, c as Scalar) * (values.includes(c as string) ? 3 : 1))) : undefined;
    this.offsetSlot = new Slot(this.offsets.map(() => 1));
    this.deltaSlots = this.offsets.map(() => new Slot([1, 2, 3, 2, 1]));
    this.rangeSlot = new Slot(this.ranges.map(() => 1));
    this.valueSlot = new Slot((this.isDate ? this.dates : values).map(() => 1));
    this.valueJitters = (this.isDate ? this.dates : values).map(() => (this.isDate ? newJitter([3, 1, 3], [2, 2, 2]) : newJitter([3, 2, 3], [2, 1])));
    this.betweenSlot = new Slot(this.dates.slice(1).map(() => 1));
    // Each codelist as likely as another, however many codes it has.
    this.groupSlot = new Slot(this.groups.map(() => 1));
    this.groupSlots = this.groups.map((g) => new Slot(g.map(() => 1)));
    this.globalSlot = new Slot(this.globalDates.map(() => 1));
    this.globalJitters = this.globalDates.map(() => undefined);
  }

  /** A value for the column; a date as a day number. `previous` is the value in the patient's previous row, if any. */
  draw(ch: Chooser, previous: Scalar | undefined): Scalar {
    const { rng } = ch;
    if (this.nullSlot && ch.choose(this.nullSlot) === 0) return null;
    // Ties: an event often shares a value with the patient's previous event.
    if (previous !== undefined && previous !== null && this.ties && rng.next() < 0.15) return previous;
    switch (this.modes[ch.choose(this.modeSlot)]!) {
      case "category":
        return this.constraints.categories![ch.choose(this.categorySlot!)] as Scalar;
      case "bool":
        return ch.choose(this.boolSlot) === 1;
      case "offset": {
        const i = ch.choose(this.offsetSlot);
        const o = this.offsets[i]!;
        const delta = ch.choose(this.deltaSlots[i]!) - 2;
        const base = shift(o.anchor, o.sign * (o.amount + delta), o.unit);
        return this.finishDate(base + o.sign * rng.int(0, UNIT_DAYS[o.unit] - 1));
      }
      case "range": {
        const r = this.ranges[ch.choose(this.rangeSlot)]!;
        const base = shift(r.anchor, r.sign * rng.int(r.from, r.to), r.unit);
        return this.finishDate(base + r.sign * rng.int(0, UNIT_DAYS[r.unit] - 1));
      }
      case "value": {
        if (this.isDate) {
          const i = ch.choose(this.valueSlot);
          return this.finishDate(this.jitterDate(ch, this.valueJitters[i]!, this.dates[i]!));
        }
        if (this.groups.length > 1 && typeof this.values[0] !== "number") {
          const g = ch.choose(this.groupSlot);
          return this.groups[g]![ch.choose(this.groupSlots[g]!)]!;
        }
        const i = ch.choose(this.valueSlot);
        return this.numberNear(ch, this.valueJitters[i]!, this.values[i]!);
      }
      case "between": {
        const i = ch.choose(this.betweenSlot);
        return this.finishDate(rng.int(this.dates[i]!, this.dates[i + 1]!));
      }
      case "global": {
        const i = ch.choose(this.globalSlot);
        const jitter = (this.globalJitters[i] ??= newJitter([3, 1, 3], [2, 2, 2]));
        return this.finishDate(this.jitterDate(ch, jitter, this.globalDates[i]!));
      }
      default:
        return this.free(rng);
    }
  }

  private jitterDate(ch: Chooser, jitter: Jitter, day: number): number {
    const sign = ch.choose(jitter.sign) - 1;
    if (sign === 0) return day;
    const scale = ch.choose(jitter.scale);
    // Far into the past, but not far into the future (the definition's dates are mostly recent).
    const amount = scale === 0 ? ch.rng.int(1, 31) : scale === 1 ? ch.rng.int(32, 365) : ch.rng.int(366, sign < 0 ? 365 * 15 : 365 * 2);
    return day + sign * amount;
  }

  private numberNear(ch: Chooser, jitter: Jitter, v: Scalar): Scalar {
    if (typeof v !== "number") return v;
    const sign = ch.choose(jitter.sign) - 1;
    const spread = Math.max(1, Math.abs(v) * 0.25);
    let x = v + sign * ch.rng.next() * spread * (ch.choose(jitter.scale) === 0 ? 1 : 4);
    x = this.type === "int" ? (sign === 0 ? v : Math.round(x) === v ? v + sign : Math.round(x)) : Math.round(x * 10) / 10;
    return this.clamp(x);
  }

  private clamp(x: number): number {
    const r = this.constraints.range;
    if (r) x = Math.min(r[1], Math.max(r[0], x));
    return x;
  }

  /** A day within the dates a table can hold, on the first of its month where the column wants that. */
  finishDate(day: number): number {
    day = Math.min(DAY_9999, Math.max(DAY_1900, day));
    if (this.constraints.firstOfMonth) {
      const text = dayText(day);
      if (!text.endsWith("-01")) day = parseIsoDate(`${text.slice(0, 8)}01`)!;
    }
    return day;
  }

  private free(rng: Random): Scalar {
    const k = this.constraints;
    switch (this.type) {
      case "date":
        return this.finishDate(this.freeAnchor - rng.int(0, 365 * 90));
      case "int":
        return k.range ? rng.int(k.range[0], k.range[1]) : rng.int(1, 60);
      case "float":
        return this.clamp(Math.round(rng.normal(30, 10) * 10) / 10);
      case "str":
        return rng.pick(WORDS);
      case "bool":
        return rng.next() < 0.5;
      default:
        return randomCode(rng, this.type);
    }
  }
}
