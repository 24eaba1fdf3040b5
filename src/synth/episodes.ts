// What happens to a patient that several tables record: GP encounters and
// their coded events, prescriptions, vaccinations, hospital spells, A&E
// attendances and outpatient appointments. Each is drawn once per patient
// from a stream of its own, and the tables that share it (apcs and apcs_cost,
// say) read the same episodes, so their identifiers and dates agree.

import { type Day, DATA_END, RECORDS_START, addYears, day, yearsBetween } from "./calendar.js";
import {
  ACUTE_MEDICINES,
  ACUTE_PROBLEMS,
  ADMIN_CODES,
  type AcuteProblem,
  type AdminCode,
  COVID_VACCINATIONS,
  type Concept,
  EC_DIAGNOSES,
  EC_DISCHARGE_DESTINATIONS,
  FLU_VACCINATION,
  HOSPITAL_DIAGNOSES,
  HRG_CODES,
  MEASUREMENTS,
  MONITORING,
  type Measurement,
  type MeasurementKey,
  PANELS,
  PROCEDURES,
  SECONDARY_DIAGNOSES,
  SMOKING,
  TREATMENT_FUNCTIONS,
} from "./codes.js";
import { type Facts, STREAM, dayAlive, dayRegistered } from "./patient.js";
import { Rng, Weighted } from "./random.js";
import { parseIsoDate } from "../querymodel/types.js";

// ---- GP encounters and coded events ------------------------------------------

export interface CodedEvent {
  readonly date: Day;
  readonly concept: Concept;
  readonly value: number | null;
  readonly consultation: number;
  /** Set for a measurement: its reference range and comparator, for clinical_events_ranges. */
  readonly range?: { readonly lower: number | null; readonly upper: number | null; readonly comparator: string };
}

export interface Encounter {
  readonly date: Day;
  readonly consultation: number;
  readonly kind: "diagnosis" | "acute" | "panel" | "admin" | "review" | "lifestyle" | "vaccination";
  readonly treatment?: keyof typeof ACUTE_MEDICINES;
}

export interface GpRecord {
  readonly events: readonly CodedEvent[];
  readonly encounters: readonly Encounter[];
}

const ageGroup = (age: number): 0 | 1 | 2 => (age < 16 ? 0 : age < 65 ? 1 : 2);

function weighted<T extends { readonly weights: readonly [number, number, number] }>(items: readonly T[], group: 0 | 1 | 2, keep: (t: T) => boolean = () => true): Weighted<T> | undefined {
  const entries = items.filter(keep).map((t) => [t, t.weights[group]] as const);
  return entries.some(([, w]) => w > 0) ? new Weighted(entries) : undefined;
}

// The pools by age group, made once. Acute problems and admin codes that depend on
// sex, age or dates are checked when drawn.
const ACUTE_BY_GROUP = [0, 1, 2].map((g) => weighted(ACUTE_PROBLEMS, g as 0 | 1 | 2)!);
const ADMIN_BY_GROUP = [0, 1, 2].map((g) => weighted(ADMIN_CODES, g as 0 | 1 | 2)!);
const PANELS_BY_GROUP = [0, 1, 2].map((g) => weighted(PANELS, g as 0 | 1 | 2)!);

/** How many coded events a patient of an age has over their record, on average (before chronic conditions add more). */
function eventBudget(age: number): number {
  return age < 5 ? 13 : age < 16 ? 7 : age < 40 ? 10 : age < 60 ? 15 : age < 75 ? 22 : 28;
}

function fitsAcute(p: AcuteProblem, d: Day): boolean {
  if (p.from && d < parseIsoDate(p.from)!) return false;
  if (p.until && d > parseIsoDate(p.until)!) return false;
  return true;
}
function fitsAdmin(a: AdminCode, f: Facts, age: number): boolean {
  if (a.sex === "female" && !f.female) return false;
  if (a.sex === "male" && f.female) return false;
  if (a.ages && (age < a.ages[0] || age >= a.ages[1])) return false;
  return true;
}

/** A measured value: the patient's usual value and noise, within the measurement's limits, rounded as recorded. */
export function measure(m: Measurement, f: Facts, age: number, rng: Rng): number {
  const v = m.value(f.physiology, rng.normal(), age);
  const clamped = Math.min(m.max, Math.max(m.min, v));
  const scale = 10 ** m.decimals;
  return Math.round(clamped * scale) / scale;
}

export function drawGpRecord(seed: number, f: Facts, vaccinations: readonly Vaccination[]): GpRecord {
  const rng = new Rng(seed, f.id, STREAM.events);
  const events: CodedEvent[] = [];
  const encounters: Encounter[] = [];
  let consultations = 0;
  const consult = () => f.id * 4096 + (consultations++ % 4096);
  const ageOn = (d: Day) => Math.max(0, yearsBetween(f.dob, d));

  const add = (date: Day, concept: Concept, consultation: number, value: number | null = null, range?: CodedEvent["range"]) => {
    events.push(range ? { date, concept, value, consultation, range } : { date, concept, value, consultation });
  };
  const addMeasurement = (key: MeasurementKey, date: Day, consultation: number) => {
    const m = MEASUREMENTS[key];
    const value = measure(m, f, ageOn(date), rng);
    const concept = m.alternative && rng.chance(0.15) ? m.alternative : m.concept;
    let range: CodedEvent["range"] | undefined;
    if (m.reference) {
      const [lower, upper] = m.reference(f.physiology);
      // eGFR is reported as ">90" at the top of its scale.
      const comparator = key === "egfr" && value >= 90 ? ">" : rng.chance(0.9) ? "=" : "~";
      range = rng.chance(0.05) ? { lower: null, upper: null, comparator } : { lower, upper, comparator };
    }
    add(date, concept, consultation, value, range);
  };

  // Chronic conditions: the diagnosis when it was made (moved into a registration, mostly), sometimes recorded again.
  for (const { condition, onset } of f.diagnoses) {
    let date = onset;
    if (!registered(f, date) && rng.chance(0.85)) date = dayRegistered(rng, f, onset) ?? onset;
    const code = rng.chance(0.7) ? condition.codes[0]! : rng.pick(condition.codes);
    const consultation = consult();
    add(date, code, consultation);
    encounters.push({ date, consultation, kind: "diagnosis" });
    if (rng.chance(0.2)) {
      const again = dayRegistered(rng, f, date);
      if (again !== undefined) {
        const c2 = consult();
        add(again, code, c2);
        encounters.push({ date: again, consultation: c2, kind: "diagnosis" });
      }
    }
  }

  // Vaccinations given at the practice are coded too.
  for (const v of vaccinations) {
    if (v.disease !== "INFLUENZA" && v.disease !== "SARS-2 CORONAVIRUS") continue;
    if (!registered(f, v.date)) continue;
    const concept = v.disease === "INFLUENZA" ? FLU_VACCINATION : COVID_VACCINATIONS[Math.min(2, v.dose - 1)]!;
    const consultation = consult();
    add(v.date, concept, consultation);
    encounters.push({ date: v.date, consultation, kind: "vaccination" });
  }

  // The rest of the record: encounters until the patient's budget of events is spent.
  const chronic = f.diagnoses.length;
  const target = Math.min(2000, rng.skewedCount(eventBudget(f.age) * (1 + 0.22 * chronic), 1.3));
  const monitored = f.diagnoses.filter((d) => MONITORING[d.condition.key]);
  const reviewed = f.diagnoses.filter((d) => d.condition.review);
  const kinds = new Weighted<Encounter["kind"]>([
    ["acute", 3],
    ["panel", 3.5],
    ["admin", 1.8],
    ["review", monitored.length + reviewed.length > 0 ? 1.2 : 0],
    ["lifestyle", f.age >= 16 ? 0.5 : 0],
  ]);
  let guard = 0;
  while (events.length < target && guard++ < 4 * target + 10) {
    const kind = kinds.pick(rng);
    const date = dayRegistered(rng, f, Math.max(f.dob, RECORDS_START));
    if (date === undefined) break;
    const age = ageOn(date);
    const group = ageGroup(age);
    const consultation = consult();
    if (kind === "acute") {
      const problem = ACUTE_BY_GROUP[group]!.pick(rng);
      if (!fitsAcute(problem, date)) continue;
      if (problem.female && !f.female && rng.chance(1 - 1 / problem.female)) continue;
      add(date, problem.concept, consultation);
      encounters.push(problem.treatment ? { date, consultation, kind, treatment: problem.treatment } : { date, consultation, kind });
      // Observations at some acute visits.
      if (rng.chance(0.15)) for (const k of ["heartRate", "temperature"] as const) addMeasurement(k, date, consultation);
    } else if (kind === "panel") {
      const panel = PANELS_BY_GROUP[group]!.pick(rng);
      if (panel.minAge !== undefined && age < panel.minAge) continue;
      for (const k of panel.items) addMeasurement(k, date, consultation);
      encounters.push({ date, consultation, kind });
    } else if (kind === "admin") {
      const code = ADMIN_BY_GROUP[group]!.pick(rng);
      if (!fitsAdmin(code, f, age)) continue;
      add(date, code.concept, consultation);
      encounters.push({ date, consultation, kind });
    } else if (kind === "review") {
      // Monitoring of a chronic condition, after its diagnosis.
      const dx = rng.pick([...monitored, ...reviewed]);
      const when = dayRegistered(rng, f, dx.onset);
      if (when === undefined) continue;
      if (dx.condition.review && rng.chance(0.4)) add(when, dx.condition.review, consultation);
      const panels = MONITORING[dx.condition.key];
      if (panels) for (const k of rng.pick(panels)) addMeasurement(k, when, consultation);
      encounters.push({ date: when, consultation, kind });
    } else {
      const pool = SMOKING[f.smoking];
      // An ex-smoker was once recorded as a smoker.
      const concept = f.smoking === "ex" && rng.chance(0.3) ? rng.pick(SMOKING.current) : rng.pick(pool);
      add(date, concept, consultation);
      encounters.push({ date, consultation, kind });
    }
  }
  return { events, encounters };
}

function registered(f: Facts, d: Day): boolean {
  for (const r of f.registrations) if (r.start <= d && (r.end === null || r.end >= d)) return true;
  return false;
}

// ---- prescriptions -------------------------------------------------------------

export interface Prescription {
  readonly date: Day;
  readonly dmd: string;
  readonly consultation: number;
}

export function drawPrescriptions(seed: number, f: Facts, gp: GpRecord): Prescription[] {
  const rng = new Rng(seed, f.id, STREAM.medications);
  const out: Prescription[] = [];
  let repeats = 0;
  // Repeat medicines for chronic conditions: issued several times from diagnosis on.
  for (const { condition, onset } of f.diagnoses) {
    if (!condition.medicines || !rng.chance(0.8)) continue;
    const drugs = rng.chance(0.3) ? [rng.pick(condition.medicines), rng.pick(condition.medicines)] : [rng.pick(condition.medicines)];
    for (const dmd of new Set(drugs)) {
      const issues = 1 + rng.skewedCount(4, 1.5);
      for (let k = 0; k < issues; k++) {
        const date = dayRegistered(rng, f, onset, f.end, 0.6);
        if (date === undefined) break;
        out.push({ date, dmd, consultation: f.id * 4096 + 2048 + (repeats++ % 2048) });
      }
    }
  }
  // Acute prescriptions at the encounter that called for them.
  for (const e of gp.encounters) {
    if (!e.treatment || !rng.chance(0.45)) continue;
    out.push({ date: e.date, dmd: rng.pick(ACUTE_MEDICINES[e.treatment]!), consultation: e.consultation });
  }
  return out.sort((a, b) => a.date - b.date);
}

// ---- vaccinations ----------------------------------------------------------------

export interface Vaccination {
  readonly id: number;
  readonly date: Day;
  readonly disease: string;
  readonly product: string;
  /** 1, 2, 3... for a course. */
  readonly dose: number;
}

const FLU_PRODUCTS = [
  "Fluenz Tetra nasal suspension 0.2ml unit dose (AstraZeneca UK Ltd)",
  "Influenza Tetra MYL vaccine suspension for injection 0.5ml pre-filled syringes (Mylan)",
  "Fluad Tetra vaccine suspension for injection 0.5ml pre-filled syringes (Seqirus UK Ltd)",
  "Adjuvanted trivalent influenza vaccine (surface antigen, inactivated) suspension for injection 0.5ml pre-filled syringes (Seqirus UK Ltd)",
];
const COVID_PRODUCTS = [
  "COVID-19 mRNA Vaccine Comirnaty 30micrograms/0.3ml dose conc for susp for inj MDV (Pfizer)",
  "COVID-19 Vaccine Vaxzevria 0.5ml inj multidose vials (AstraZeneca)",
  "COVID-19 mRNA Vaccine Spikevax 0.1mg/0.5mL dose disp for inj MDV (Moderna)",
];
const SIX_IN_ONE = ["Infanrix hexa vaccine powder and suspension for suspension for injection 0.5ml pre-filled syringes (GlaxoSmithKline UK Ltd)", "Vaxelis vaccine suspension for injection 0.5ml pre-filled syringes (MCM Vaccine B.V.)"];
const MMR = ["Priorix vaccine powder and solvent for solution for injection 0.5ml pre-filled syringes (GlaxoSmithKline UK Ltd)", "M-M-RVAXPRO vaccine powder and solvent for suspension for injection 0.5ml pre-filled syringes (Merck Sharp & Dohme (UK) Ltd)"];
const PNEUMOCOCCAL = "Pneumococcal polysaccharide vaccine solution for injection 0.5ml vials (Merck Sharp & Dohme (UK) Ltd)";
const SHINGLES = "Zostavax vaccine powder and solvent for suspension for injection 0.65ml pre-filled syringes (Merck Sharp & Dohme (UK) Ltd)";

// Conditions that make a flu vaccination due under 65.
const FLU_AT_RISK = new Set(["type2_diabetes", "type1_diabetes", "asthma", "copd", "coronary_heart_disease", "heart_failure", "stroke", "ckd", "severe_mental_illness"]);

export function drawVaccinations(seed: number, f: Facts): Vaccination[] {
  const rng = new Rng(seed, f.id, STREAM.events ^ 0x5bd1e995);
  const out: Vaccination[] = [];
  let next = 0;
  const give = (date: Day | undefined, product: string, diseases: readonly string[], dose = 1) => {
    if (date === undefined || date < f.dob || date > f.end) return;
    const id = f.id * 256 + (next++ % 256);
    for (const disease of diseases) out.push({ id, date, disease, product, dose });
  };
  const atRisk = f.diagnoses.some((d) => FLU_AT_RISK.has(d.condition.key));

  // Seasonal flu, from September: for those aged 65 or more, children from 2014, and adults at risk.
  for (let y = 2010; y <= 2025; y++) {
    const age = yearsBetween(f.dob, day(y, 9, 1));
    if (age < 2) continue;
    const p = age >= 65 ? 0.72 : age < 12 && y >= 2014 ? 0.45 : atRisk && age >= 18 ? 0.45 : 0.03;
    if (!rng.chance(p)) continue;
    give(day(y, 9, 1) + Math.min(120, Math.floor(rng.exponential(35))), age < 17 ? FLU_PRODUCTS[0]! : rng.pick(FLU_PRODUCTS.slice(1)), ["INFLUENZA"]);
  }

  // COVID-19: first doses by age priority from December 2020, then second doses and boosters.
  const ageIn2021 = yearsBetween(f.dob, day(2021, 1, 1));
  if (ageIn2021 >= 12) {
    const uptake = ageIn2021 >= 70 ? 0.92 : ageIn2021 >= 50 ? 0.86 : ageIn2021 >= 18 ? 0.7 : 0.5;
    if (rng.chance(uptake)) {
      const start = ageIn2021 >= 80 ? day(2020, 12, 8) : ageIn2021 >= 50 ? day(2021, 1, 15) : ageIn2021 >= 18 ? day(2021, 4, 15) : day(2021, 9, 1);
      const first = start + Math.floor(rng.exponential(30));
      const product = rng.pick(COVID_PRODUCTS.slice(0, 2));
      give(first, product, ["SARS-2 CORONAVIRUS"], 1);
      if (rng.chance(0.93)) {
        give(first + 56 + rng.int(0, 28), product, ["SARS-2 CORONAVIRUS"], 2);
        if (ageIn2021 >= 18 && rng.chance(ageIn2021 >= 50 ? 0.85 : 0.55)) give(day(2021, 9, 20) + Math.floor(rng.exponential(40)), rng.pick([COVID_PRODUCTS[0]!, COVID_PRODUCTS[2]!]), ["SARS-2 CORONAVIRUS"], 3);
        let dose = 4;
        for (const [y, m] of [[2022, 3], [2022, 9], [2023, 4], [2023, 9], [2024, 4], [2024, 10], [2025, 4], [2025, 10]] as const) {
          const age = yearsBetween(f.dob, day(y, m, 1));
          const eligible = m <= 4 ? age >= 75 : age >= 65;
          if (eligible && rng.chance(0.6)) give(day(y, m, 1) + Math.floor(rng.exponential(25)), COVID_PRODUCTS[0]!, ["SARS-2 CORONAVIRUS"], dose++);
        }
      }
    }
  }

  // Childhood immunisations for those born in the record's era.
  if (f.dob >= day(2000, 1, 1)) {
    for (const [weeks, dose] of [[8, 1], [12, 2], [16, 3]] as const) {
      if (rng.chance(0.93)) give(f.dob + weeks * 7 + Math.floor(rng.exponential(10)), rng.pick(SIX_IN_ONE), ["DIPHTHERIA", "TETANUS", "PERTUSSIS", "POLIO", "HIB", "HEPATITIS B"], dose);
    }
    if (rng.chance(0.9)) give(addYears(f.dob, 1) + Math.floor(rng.exponential(20)), rng.pick(MMR), ["MEASLES", "MUMPS", "RUBELLA"], 1);
    if (rng.chance(0.86)) give(addYears(f.dob, 3) + 120 + Math.floor(rng.exponential(30)), rng.pick(MMR), ["MEASLES", "MUMPS", "RUBELLA"], 2);
  }
  // Pneumococcal at 65, shingles at 70.
  const at65 = addYears(f.dob, 65);
  if (at65 >= day(2010, 1, 1) && rng.chance(0.7)) give(at65 + Math.floor(rng.exponential(200)), PNEUMOCOCCAL, ["PNEUMOCOCCAL"]);
  const at70 = addYears(f.dob, 70);
  if (at70 >= day(2013, 9, 1) && rng.chance(0.45)) give(at70 + Math.floor(rng.exponential(200)), SHINGLES, ["SHINGLES"]);
  return out.filter((v) => v.date <= DATA_END).sort((a, b) => a.date - b.date || a.id - b.id);
}

// ---- hospital: admitted patient care, A&E, outpatients ------------------------------

export interface Spell {
  readonly ident: number;
  readonly admission: Day;
  readonly discharge: Day;
  readonly method: string;
  readonly dischargeMethod: string;
  readonly dischargeDestination: string;
  readonly classification: string;
  readonly hrg: string;
  readonly primary: string;
  readonly secondary: string | null;
  readonly diagnoses: readonly string[];
  readonly procedures: readonly string[];
  readonly criticalCareDays: number | null;
  readonly cost: number;
}

const DIAGNOSES = new Weighted(HOSPITAL_DIAGNOSES);
const OPCS = new Weighted(PROCEDURES);
const ADMISSION_METHODS = new Weighted([["21", 40], ["11", 20], ["12", 15], ["13", 5], ["22", 4], ["23", 2], ["24", 2], ["28", 3], ["2A", 2], ["2B", 1], ["81", 1], ["99", 0.5]] as const);
const DISCHARGE_METHODS = new Weighted([["1", 93], ["2", 1], ["3", 0.5], ["9", 1]] as const);
const DISCHARGE_DESTINATIONS = new Weighted([["19", 85], ["29", 2], ["54", 3], ["51", 3], ["65", 1], ["87", 1], ["98", 1], ["99", 1]] as const);

/** How often a patient is admitted, per year of record. */
function admissionRate(f: Facts): number {
  return 0.03 + 0.0035 * f.age + 0.05 * f.diagnoses.length;
}

export function drawSpells(seed: number, f: Facts): Spell[] {
  const rng = new Rng(seed, f.id, STREAM.hospital);
  // Admitted patient care from April 2016.
  const from = Math.max(f.dob, day(2016, 4, 1));
  if (from > f.end) return [];
  const years = (f.end - from) / 365.25;
  const frailty = rng.gamma(1.2, 1 / 1.2);
  const n = Math.min(60, rng.poisson(admissionRate(f) * frailty * years));
  const spells: Spell[] = [];
  for (let k = 0; k < n; k++) {
    const admission = dayAlive(rng, f, from)!;
    let primary = DIAGNOSES.pick(rng);
    const age = yearsBetween(f.dob, admission);
    if (primary.startsWith("O") && (!f.female || age < 16 || age > 48)) primary = "R074";
    if (primary === "Z380" && age > 0) primary = "R104";
    const dayCase = rng.chance(0.35);
    const stay = dayCase ? 0 : Math.max(1, Math.round(rng.exponential(3 + age / 15)));
    const discharge = Math.min(f.end, DATA_END, admission + stay);
    const died = f.death !== null && discharge === f.death && rng.chance(0.5);
    const secondary = rng.chance(0.6) ? rng.pick(SECONDARY_DIAGNOSES) : null;
    const others = Array.from({ length: rng.poisson(1.2) }, () => rng.pick(SECONDARY_DIAGNOSES));
    const diagnoses = [...new Set([primary, ...(secondary ? [secondary] : []), ...others])];
    const procedures = rng.chance(dayCase ? 0.85 : 0.45) ? Array.from({ length: 1 + rng.poisson(0.6) }, () => OPCS.pick(rng)) : [];
    spells.push({
      ident: f.id * 64 + k,
      admission,
      discharge,
      method: primary.startsWith("O") ? "31" : dayCase ? rng.pick(["11", "12", "13"]) : ADMISSION_METHODS.pick(rng),
      dischargeMethod: died ? "4" : DISCHARGE_METHODS.pick(rng),
      dischargeDestination: died ? "79" : DISCHARGE_DESTINATIONS.pick(rng),
      classification: dayCase ? "2" : rng.chance(0.97) ? "1" : rng.pick(["3", "4", "5"]),
      hrg: rng.pick(HRG_CODES),
      primary,
      secondary,
      diagnoses,
      procedures: [...new Set(procedures)],
      criticalCareDays: rng.chance(0.1) ? null : !dayCase && rng.chance(0.04) ? 1 + rng.poisson(2.5) : 0,
      cost: Math.round(Math.exp(rng.normal(dayCase ? 6.6 : 7.9, 0.6)) * 100) / 100,
    });
  }
  return spells.sort((a, b) => a.admission - b.admission);
}

export interface Attendance {
  readonly ident: number;
  readonly arrival: Day;
  readonly hrg: string;
  readonly discharge: string;
  readonly diagnoses: readonly string[];
  readonly admitted: boolean;
  readonly injury: boolean;
  readonly cost: number;
}

const EC_DESTINATIONS = new Weighted(EC_DISCHARGE_DESTINATIONS);
const INJURIES = new Set(["125605004", "283682007", "417163006", "125667009", "82271004", "39848009", "7895008"]);

export function drawAttendances(seed: number, f: Facts): Attendance[] {
  const rng = new Rng(seed, f.id, STREAM.emergency);
  const from = Math.max(f.dob, day(2019, 4, 1));
  if (from > f.end) return [];
  const years = (f.end - from) / 365.25;
  const rate = f.age < 5 ? 0.35 : f.age < 16 ? 0.2 : f.age < 65 ? 0.22 : f.age < 80 ? 0.3 : 0.5;
  const n = Math.min(60, rng.poisson(rate * rng.gamma(1, 1) * years));
  const out: Attendance[] = [];
  for (let k = 0; k < n; k++) {
    const arrival = dayAlive(rng, f, from)!;
    const discharge = EC_DESTINATIONS.pick(rng);
    const diagnoses = [...new Set(Array.from({ length: 1 + (rng.chance(0.3) ? rng.int(1, 3) : 0) }, () => rng.pick(EC_DIAGNOSES)))];
    out.push({
      ident: f.id * 64 + k,
      arrival,
      hrg: `VB${String(rng.int(1, 11)).padStart(2, "0")}Z`,
      discharge,
      diagnoses,
      admitted: discharge === "306706006" || discharge === "1066361000000104" || discharge === "1066371000000106",
      injury: diagnoses.some((d) => INJURIES.has(d)),
      cost: Math.round(Math.exp(rng.normal(5.2, 0.5)) * 100) / 100,
    });
  }
  return out.sort((a, b) => a.arrival - b.arrival);
}

export interface OutpatientAppointment {
  readonly ident: number;
  readonly date: Day;
  readonly referral: Day;
  readonly status: string;
  readonly medium: string;
  readonly first: string;
  readonly outcome: string;
  readonly hrg: string;
  readonly treatmentFunction: string;
  readonly cost: number;
  readonly diagnosis: string | null;
  readonly secondaryDiagnosis: string | null;
  readonly procedure: string | null;
  readonly procedure2: string | null;
}

const ATTENDANCE_STATUS = new Weighted([["5", 80], ["6", 3], ["7", 2], ["2", 5], ["3", 6], ["4", 3], ["0", 1]] as const);
const MEDIUM = new Weighted([["01", 72], ["02", 20], ["03", 1], ["04", 4], ["05", 0.5], ["09", 0.5], ["10", 0.5], ["11", 1], ["98", 0.5]] as const);
const FIRST = new Weighted([["1", 35], ["2", 58], ["3", 3], ["4", 2], ["5", 1], ["9", 1]] as const);
const OUTCOME = new Weighted([["1", 30], ["2", 58], ["3", 10], ["4", 1], ["5", 1]] as const);

export function drawOutpatients(seed: number, f: Facts): OutpatientAppointment[] {
  const rng = new Rng(seed, f.id, STREAM.outpatients);
  const from = Math.max(f.dob, day(2019, 4, 1));
  if (from > f.end) return [];
  const years = (f.end - from) / 365.25;
  const rate = 0.1 + 0.006 * f.age + 0.08 * f.diagnoses.length;
  const n = Math.min(80, rng.poisson(rate * rng.gamma(0.8, 1 / 0.8) * years));
  const out: OutpatientAppointment[] = [];
  for (let k = 0; k < n; k++) {
    const date = dayAlive(rng, f, from)!;
    const hasProcedure = rng.chance(0.3);
    out.push({
      ident: f.id * 128 + k,
      date,
      referral: Math.max(f.dob, date - 7 - Math.floor(rng.exponential(60))),
      status: ATTENDANCE_STATUS.pick(rng),
      medium: MEDIUM.pick(rng),
      first: FIRST.pick(rng),
      outcome: OUTCOME.pick(rng),
      hrg: rng.pick(["WF01A", "WF01B", "WF01C", "WF02A", "WF02B"]),
      treatmentFunction: rng.pick(TREATMENT_FUNCTIONS),
      cost: Math.round(Math.exp(rng.normal(4.9, 0.4)) * 100) / 100,
      diagnosis: rng.chance(0.25) ? DIAGNOSES.pick(rng) : null,
      secondaryDiagnosis: rng.chance(0.08) ? rng.pick(SECONDARY_DIAGNOSES) : null,
      procedure: hasProcedure ? OPCS.pick(rng) : null,
      procedure2: hasProcedure && rng.chance(0.2) ? OPCS.pick(rng) : null,
    });
  }
  return out.sort((a, b) => a.date - b.date);
}

export { ageGroup };
