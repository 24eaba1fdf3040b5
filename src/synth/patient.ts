// A synthetic patient's life, drawn once and shared by every table: birth,
// sex, death, registrations with practices, chronic conditions, smoking, the
// usual values of their measurements, opt-outs and household. Each patient
// has random streams of their own (keyed by seed, patient id and purpose), so
// a patient is the same whatever the block size or the tables generated.

import { type Day, DATA_END, DEATHS_FROM, RECORDS_START, addYears, day, firstOfMonth, yearsBetween } from "./calendar.js";
import { CONDITIONS, type Condition, NUTS1_REGIONS, type Physiology, REGION_WEIGHTS, atAge } from "./codes.js";
import { Rng, Weighted, hashString } from "./random.js";

export type Sex = "female" | "male" | "intersex" | "unknown";

export interface Practice {
  readonly id: number;
  readonly region: string;
  readonly stp: string;
  readonly goLive: Day;
}

export interface Registration {
  readonly start: Day;
  /** NULL while registered. */
  readonly end: Day | null;
  readonly practice: Practice;
}

export interface Diagnosis {
  readonly condition: Condition;
  readonly onset: Day;
}

export interface Facts {
  readonly id: number;
  readonly dob: Day;
  readonly sex: Sex;
  /** For sex-linked conditions and values (intersex and unknown get one or the other). */
  readonly female: boolean;
  /** The day the patient died, or null. */
  readonly death: Day | null;
  /** The GP record's date of death (usually the death date; sometimes missing or a few days off). */
  readonly gpDeath: Day | null;
  /** ONS's date of death, when the death is registered. */
  readonly onsDeath: Day | null;
  /** The last day of the record: the death or the end of the data. */
  readonly end: Day;
  /** Age at the end of the record. */
  readonly age: number;
  readonly registrations: readonly Registration[];
  readonly diagnoses: readonly Diagnosis[];
  readonly smoking: "never" | "ex" | "current";
  readonly physiology: Physiology;
  readonly typeOneDissent: boolean;
  /** Has a national data opt-out (so is absent from patients_without_ndoo). */
  readonly nationalOptOut: boolean;
}

// England's population by five-year age band (ONS mid-2021, thousands), oldest
// bands raised a little because the record also holds those who have died.
const AGE_BANDS: readonly (readonly [number, number])[] = [
  [0, 3190], [5, 3500], [10, 3480], [15, 3240], [20, 3490], [25, 3800], [30, 3930], [35, 3740], [40, 3560], [45, 3650],
  [50, 3950], [55, 3830], [60, 3290], [65, 2800], [70, 2820], [75, 2300], [80, 1800], [85, 1200], [90, 650], [95, 220], [100, 40],
];
const AGE_PYRAMID = new Weighted(AGE_BANDS.map(([from, w]) => [from, w] as const));

const SEXES = new Weighted<Sex>([
  ["female", 50.6],
  ["male", 49.2],
  ["intersex", 0.05],
  ["unknown", 0.15],
]);

/** Annual risk of death at an age (a Gompertz curve close to England's life tables). */
function mortality(age: number): number {
  if (age < 1) return 0.004;
  if (age < 15) return 0.0001;
  return Math.min(0.6, Math.exp(-10.2 + 0.094 * age));
}

// Purposes of a patient's random streams.
export const STREAM = {
  facts: hashString("facts"),
  registrations: hashString("registrations"),
  conditions: hashString("conditions"),
  events: hashString("events"),
  medications: hashString("medications"),
  hospital: hashString("hospital"),
  emergency: hashString("emergency"),
  outpatients: hashString("outpatients"),
  household: hashString("household"),
} as const;

/** The population's practices, the same for a seed. */
export class Practices {
  readonly all: readonly Practice[];
  private readonly bySize: Weighted<Practice>;
  private readonly byRegion: Map<string, Weighted<Practice>>;

  constructor(seed: number, count = 1000) {
    const rng = new Rng(seed, hashString("practices"));
    const regions = new Weighted(NUTS1_REGIONS.map((r, i) => [i, REGION_WEIGHTS[i]!] as const));
    const all: Practice[] = [];
    const weights: [Practice, number][] = [];
    for (let i = 0; i < count; i++) {
      const r = regions.pick(rng);
      // Each region's STPs (sustainability and transformation partnerships) are a few codes of its own.
      const stp = `E540000${String(r * 5 + rng.int(0, 4) + 5).padStart(2, "0")}`;
      // SystmOne went live at most practices between 2000 and 2015.
      const goLive = firstOfMonth(day(1999, 1, 1) + Math.floor(rng.next() ** 1.4 * (day(2019, 6, 1) - day(1999, 1, 1))));
      const p: Practice = { id: rng.int(1, 9) * 1000 + i + 1, region: NUTS1_REGIONS[r]!, stp, goLive };
      all.push(p);
      // List sizes vary about fourfold.
      weights.push([p, Math.exp(rng.normal(0, 0.5))]);
    }
    this.all = all;
    this.bySize = new Weighted(weights);
    this.byRegion = new Map(NUTS1_REGIONS.map((region) => [region, new Weighted(weights.filter(([p]) => p.region === region))] as const).filter(([, w]) => w.size > 0));
  }

  pick(rng: Rng, nearby?: Practice): Practice {
    if (nearby && rng.chance(0.75)) return this.byRegion.get(nearby.region)?.pick(rng) ?? this.bySize.pick(rng);
    return this.bySize.pick(rng);
  }
}

/** Birth and sex: the first draws of a patient's facts stream. */
function demographics(rng: Rng): { dob: Day; sex: Sex; female: boolean } {
  // Age at the end of the data, from the pyramid; born on the first of a month.
  const band = AGE_PYRAMID.pick(rng);
  const nominalAge = band + rng.next() * 5;
  let dob = firstOfMonth(DATA_END - Math.floor(nominalAge * 365.25));
  if (dob > DATA_END) dob = firstOfMonth(DATA_END);
  const sex = SEXES.pick(rng);
  const female = sex === "female" || (sex !== "male" && rng.chance(0.5));
  return { dob, sex, female };
}

/** Patient `id`'s birth and sex alone (the same as in their facts), cheaply. */
export function drawDemographics(seed: number, id: number): { dob: Day; sex: Sex; female: boolean } {
  return demographics(new Rng(seed, id, STREAM.facts));
}

/** Draws patient `id`'s life. */
export function drawFacts(seed: number, id: number, practices: Practices): Facts {
  const rng = new Rng(seed, id, STREAM.facts);
  const { dob, sex, female } = demographics(rng);

  // Death: a year-by-year risk from 2010 (when deaths are recorded) to the end of the data.
  let death: Day | null = null;
  for (let y = 2010; y <= 2025 && death === null; y++) {
    const from = Math.max(day(y, 1, 1), dob, DEATHS_FROM);
    const to = day(y, 12, 31);
    if (from > to) continue;
    const age = yearsBetween(dob, from);
    if (age > 104 || rng.chance(mortality(age) * ((to - from + 1) / 365) * (female ? 0.8 : 1))) death = rng.int(from, to);
  }
  const end = death ?? DATA_END;
  const age = Math.max(0, yearsBetween(dob, end));

  // The GP record and ONS mostly agree; a few deaths are missing from one, or a few days apart.
  let gpDeath: Day | null = death;
  let onsDeath: Day | null = death;
  if (death !== null) {
    const u = rng.next();
    if (u < 0.04) gpDeath = null;
    else if (u < 0.07) onsDeath = null;
    else if (u < 0.09) gpDeath = Math.min(DATA_END, death + rng.int(1, 14));
    // Deaths in the last weeks of the data are often not registered yet.
    if (death > DATA_END - 60 && rng.chance(0.5)) onsDeath = null;
  }

  const registrations = drawRegistrations(new Rng(seed, id, STREAM.registrations), dob, death, practices);
  const diagnoses = drawDiagnoses(new Rng(seed, id, STREAM.conditions), dob, end, age, sex, female);
  const has = new Set(diagnoses.map((d) => d.condition.key));

  const adult = age >= 16;
  const smoking = !adult ? "never" : rng.chance(0.14 + (has.has("copd") ? 0.5 : 0)) ? "current" : rng.chance(age > 50 ? 0.4 : 0.2) ? "ex" : "never";
  const physiology = drawPhysiology(rng, age, female, has);

  return {
    id,
    dob,
    sex,
    female,
    death,
    gpDeath,
    onsDeath,
    end,
    age,
    registrations,
    diagnoses,
    smoking,
    physiology,
    typeOneDissent: rng.chance(adult ? 0.032 : 0.02),
    nationalOptOut: rng.chance(adult ? 0.055 : 0.03),
  };
}

function drawRegistrations(rng: Rng, dob: Day, death: Day | null, practices: Practices): Registration[] {
  const end = death ?? DATA_END;
  // Records start at birth for those born in SystmOne's era, else at some point of adult life.
  const earliest = Math.max(dob, day(1985, 1, 1));
  let start: Day;
  if (dob >= RECORDS_START && rng.chance(0.8)) start = Math.min(end, dob + Math.floor(rng.exponential(40)));
  else start = earliest + Math.floor(rng.next() ** 1.5 * Math.max(0, end - earliest - 30));
  start = Math.min(start, end);

  const u = rng.next();
  let count = u < 0.56 ? 1 : u < 0.86 ? 2 : u < 0.97 ? 3 : 4;
  // Time between registrations: moves are spread over the whole span.
  const span = end - start;
  if (span < 365 * count) count = Math.max(1, Math.floor(span / 365));
  const moves = Array.from({ length: count - 1 }, () => start + 180 + Math.floor(rng.next() * Math.max(1, span - 360))).sort((x, y) => x - y);

  const regs: Registration[] = [];
  let practice = practices.pick(rng);
  let from = start;
  for (const move of moves) {
    if (move <= from + 30) continue;
    // Most moves are a transfer (the new registration starts the next day); some leave a gap.
    const gap = rng.chance(0.55) ? 0 : 1 + Math.floor(rng.exponential(120));
    const next = Math.min(end, move + gap);
    if (next > end - 1) break;
    regs.push({ start: from, end: move, practice });
    let moved = practices.pick(rng, practice);
    if (moved.id === practice.id) moved = practices.pick(rng);
    practice = moved;
    from = next + 1;
  }
  // The last registration: ended at death (a few days after), left (moved away from TPP), or current.
  let last: Day | null = null;
  if (death !== null) last = Math.min(DATA_END, death + rng.int(0, 20));
  else if (rng.chance(0.07) && DATA_END - from > 400) last = from + 200 + Math.floor(rng.next() * (DATA_END - from - 200));
  regs.push({ start: from, end: last, practice });
  return regs;
}

function drawDiagnoses(rng: Rng, dob: Day, end: Day, age: number, sex: Sex, female: boolean): Diagnosis[] {
  const out: Diagnosis[] = [];
  for (const condition of CONDITIONS) {
    if (condition.sex === "female" && !female) continue;
    if (condition.sex === "male" && female) continue;
    if (condition.sex && sex !== condition.sex && rng.chance(0.5)) continue;
    let p = atAge(condition.prevalence, age);
    if (condition.femaleRatio) p *= female ? Math.sqrt(condition.femaleRatio) : 1 / Math.sqrt(condition.femaleRatio);
    if (age < condition.minOnset || !rng.chance(p)) continue;
    // Onset: any time from the youngest onset age, later more likely.
    const from = addYears(dob, condition.minOnset);
    const onset = from + Math.floor(rng.next() ** 0.7 * Math.max(0, end - from));
    out.push({ condition, onset: Math.min(end, onset) });
  }
  return out;
}

function drawPhysiology(rng: Rng, age: number, female: boolean, has: Set<string>): Physiology {
  const adult = age >= 18;
  const height = adult ? (female ? 1.63 : 1.77) + rng.normal(0, 0.065) : Math.min(1.8, 0.5 + 0.075 * age + rng.normal(0, 0.04) - (age > 12 && female ? 0.03 : 0));
  let bmi = adult ? Math.exp(rng.normal(Math.log(26.5), 0.17)) : Math.exp(rng.normal(Math.log(16 + Math.max(0, age - 5) * 0.35), 0.12));
  if (has.has("obesity")) bmi = Math.max(bmi, 30 + rng.exponential(4));
  const hypertensive = has.has("hypertension");
  const systolic = (age < 16 ? 105 : 108 + 0.38 * age) + (hypertensive ? 10 : 0) + rng.normal(0, 9);
  const diastolic = (age < 16 ? 64 : 70 + 0.08 * age) + (hypertensive ? 6 : 0) + rng.normal(0, 6);
  const ckd = has.has("ckd");
  const egfr = Math.min(90, ckd ? 20 + rng.next() * 40 : 120 - 0.8 * Math.max(0, age - 20) + rng.normal(0, 10));
  const creatinine = (female ? 68 : 85) * (ckd ? 90 / Math.max(10, egfr) : 1) * Math.exp(rng.normal(0, 0.12));
  const diabetic = has.has("type2_diabetes") || has.has("type1_diabetes");
  const hba1c = diabetic ? 52 + rng.exponential(10) : 35 + 0.05 * age + rng.normal(0, 3);
  const statin = has.has("hypercholesterolaemia") || has.has("coronary_heart_disease") || has.has("stroke");
  const cholesterol = Math.max(2.5, (statin ? 4.2 : 4.4 + 0.02 * Math.min(age, 60)) + rng.normal(0, 0.8));
  const alcohol = adult ? (rng.chance(0.2) ? 0 : Math.exp(rng.normal(Math.log(has.has("alcohol_dependence") ? 50 : 8), 0.8))) : 0;
  return { age, female, conditions: has, systolic, diastolic, bmi, height, creatinine, cholesterol, hba1c, egfr, alcohol };
}

/** The registration covering a day, if any. */
export function registrationOn(f: Facts, d: Day): Registration | undefined {
  for (const r of f.registrations) if (r.start <= d && (r.end === null || r.end >= d)) return r;
  return undefined;
}

/** A random day within the patient's registrations (later years more likely), between `from` and `to`; undefined when none. */
export function dayRegistered(rng: Rng, f: Facts, from: Day = f.dob, to: Day = f.end, recentBias = 0.75): Day | undefined {
  const regs = f.registrations;
  const last = Math.min(to, f.end);
  let total = 0;
  for (const r of regs) {
    const a = Math.max(r.start, from);
    const b = Math.min(r.end ?? DATA_END, last);
    if (b >= a) total += b - a + 1;
  }
  if (total === 0) return undefined;
  let x = Math.floor(rng.next() ** recentBias * total);
  for (const r of regs) {
    const a = Math.max(r.start, from);
    const b = Math.min(r.end ?? DATA_END, last);
    if (b < a) continue;
    if (x <= b - a) return a + x;
    x -= b - a + 1;
  }
  return last;
}

/** A random day of the patient's life between `from` and `to` (whether registered or not); undefined when none. */
export function dayAlive(rng: Rng, f: Facts, from: Day, to: Day = f.end): Day | undefined {
  const a = Math.max(from, f.dob);
  const b = Math.min(to, f.end);
  if (b < a) return undefined;
  return a + Math.floor(rng.next() * (b - a + 1));
}

/** The first registration's start. */
export function firstRegistered(f: Facts): Day {
  return f.registrations[0]!.start;
}
