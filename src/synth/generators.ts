// Rows for each table, one patient at a time. A table that ehrQL's TPP schema
// describes gets a generator that knows what its columns mean (admission
// before discharge, costs for the spells admitted, one twin row per coding
// system in clinical_events); any other table, and any column a generator
// leaves out, gets values from the column's type and constraints alone. So a
// table or column added to the schema is generated, plausibly if not wisely.

import type { Scalar, ScalarType } from "../querymodel/index.js";
import { isValidCode } from "../querymodel/types.js";
import { type Day, DATA_END, addYears, day, firstOfMonth, iso, yearsBetween } from "./calendar.js";
import {
  ACUTE_PROBLEMS,
  ADMIN_CODES,
  BNF_CODES,
  CONDITIONS,
  CONTRIBUTING_CAUSES,
  type Concept,
  DEATH_CAUSES,
  HOSPITAL_DIAGNOSES,
  MEASUREMENTS,
  MEDICINES,
  PROCEDURES,
  SMOKING,
  TREATMENT_FUNCTIONS,
} from "./codes.js";
import {
  type Attendance,
  type GpRecord,
  type OutpatientAppointment,
  type Prescription,
  type Spell,
  type Vaccination,
  drawAttendances,
  drawGpRecord,
  drawOutpatients,
  drawPrescriptions,
  drawSpells,
  drawVaccinations,
} from "./episodes.js";
import { type Facts, STREAM, dayAlive, dayRegistered, drawDemographics, registrationOn } from "./patient.js";
import { patternGenerator } from "./pattern.js";
import { Rng, Weighted, hashString } from "./random.js";
import type { SynthColumn, SynthTable } from "./schema.js";

/** A row as a generator describes it: stored column → value; a column left out is filled from its type. */
export type Rec = Record<string, Scalar | undefined>;
export type Emit = (rec: Rec) => void;

/** One patient, with the episodes that several tables share, each drawn on first use. */
export class PatientContext {
  #gp?: GpRecord;
  #prescriptions?: Prescription[];
  #vaccinations?: Vaccination[];
  #spells?: Spell[];
  #attendances?: Attendance[];
  #outpatients?: OutpatientAppointment[];

  constructor(
    readonly seed: number,
    readonly facts: Facts,
    readonly households: Households,
  ) {}

  get gp(): GpRecord {
    return (this.#gp ??= drawGpRecord(this.seed, this.facts, this.vaccinations));
  }
  get prescriptions(): Prescription[] {
    return (this.#prescriptions ??= drawPrescriptions(this.seed, this.facts, this.gp));
  }
  get vaccinations(): Vaccination[] {
    return (this.#vaccinations ??= drawVaccinations(this.seed, this.facts));
  }
  get spells(): Spell[] {
    return (this.#spells ??= drawSpells(this.seed, this.facts));
  }
  get attendances(): Attendance[] {
    return (this.#attendances ??= drawAttendances(this.seed, this.facts));
  }
  get outpatients(): OutpatientAppointment[] {
    return (this.#outpatients ??= drawOutpatients(this.seed, this.facts));
  }
}

export type TableGenerator = (ctx: PatientContext, rng: Rng, emit: Emit, table: SynthTable) => void;

const isoOrNull = (d: Day | null | undefined): string | null => (d === null || d === undefined ? null : iso(d));
const has = (table: SynthTable, column: string) => table.columns.some((c) => c.name === column);

// ==========================================================================
// HOUSEHOLDS
// ==========================================================================

// Patients are grouped into households by blocks of consecutive ids, each block
// split into households of realistic sizes, so a household can be found from
// any of its members without looking at the rest of the population.
const HOUSEHOLD_BLOCK = 64;
const HOUSEHOLD_SIZES = new Weighted([[1, 30], [2, 34], [3, 15], [4, 13], [5, 5], [6, 2], [7, 0.7], [8, 0.3]] as const);

export interface Household {
  readonly id: number;
  readonly size: number;
  readonly members: readonly number[];
}

export class Households {
  private block = -1;
  private households: Household[] = [];
  private index = new Map<number, Household>();
  constructor(
    private readonly seed: number,
    private readonly population: number,
  ) {}

  of(patient: number): Household {
    const block = Math.floor((patient - 1) / HOUSEHOLD_BLOCK);
    if (block !== this.block) {
      const rng = new Rng(this.seed, block, STREAM.household);
      this.households = [];
      this.index.clear();
      const first = block * HOUSEHOLD_BLOCK + 1;
      const last = Math.min(this.population, first + HOUSEHOLD_BLOCK - 1);
      for (let p = first; p <= last; ) {
        const size = Math.min(HOUSEHOLD_SIZES.pick(rng), last - p + 1);
        const members = Array.from({ length: size }, (_, k) => p + k);
        // A pseudonymous id: an odd multiplier is a bijection on 32-bit integers, so ids never collide.
        const h: Household = { id: Math.imul(p, 0x9e3779b1) >>> 0, size, members };
        this.households.push(h);
        for (const m of members) this.index.set(m, h);
        p += size;
      }
      this.block = block;
    }
    return this.index.get(patient)!;
  }
}

// ==========================================================================
// THE CORE TABLES
// ==========================================================================

const patients: TableGenerator = ({ facts: f }, _rng, emit) => {
  emit({ date_of_birth: iso(f.dob), sex: f.sex, date_of_death: isoOrNull(f.gpDeath) });
};

const practiceRegistrations: TableGenerator = ({ facts: f }, _rng, emit) => {
  for (const r of f.registrations) {
    emit({
      start_date: iso(r.start),
      end_date: isoOrNull(r.end),
      practice_pseudo_id: r.practice.id,
      practice_stp: r.practice.stp,
      practice_nuts1_region_name: r.practice.region,
      practice_systmone_go_live_date: iso(r.practice.goLive),
    });
  }
};

// TPP records each event twice, once with its CTV3 code and once with its SNOMED CT
// code (ehrQL's clinical_events); the core table has the SNOMED CT row only.
const clinicalEvents: TableGenerator = (ctx, _rng, emit, table) => {
  const twin = has(table, "ctv3_code");
  for (const e of ctx.gp.events) {
    const date = iso(e.date);
    emit({ date, snomedct_code: e.concept.snomed, ctv3_code: null, numeric_value: e.value, consultation_id: e.consultation });
    if (twin) emit({ date, snomedct_code: null, ctv3_code: e.concept.ctv3, numeric_value: e.value, consultation_id: e.consultation });
  }
};

const clinicalEventsRanges: TableGenerator = (ctx, _rng, emit) => {
  for (const e of ctx.gp.events) {
    const r = e.range;
    if (!r) continue;
    const date = iso(e.date);
    emit({ date, snomedct_code: e.concept.snomed, ctv3_code: null, numeric_value: e.value, lower_bound: r.lower, upper_bound: r.upper, comparator: r.comparator, consultation_id: e.consultation });
    emit({ date, snomedct_code: null, ctv3_code: e.concept.ctv3, numeric_value: e.value, lower_bound: r.lower, upper_bound: r.upper, comparator: r.comparator, consultation_id: e.consultation });
  }
};

const medications: TableGenerator = (ctx, _rng, emit) => {
  for (const p of ctx.prescriptions) emit({ date: iso(p.date), dmd_code: p.dmd, consultation_id: p.consultation });
};

const CAUSES = new Map<boolean, Weighted<string>>([
  [false, new Weighted(DEATH_CAUSES.map(([code, young]) => [code, young] as const))],
  [true, new Weighted(DEATH_CAUSES.map(([code, , old]) => [code, old] as const))],
]);
const PLACES = new Weighted([["Hospital", 44], ["Home", 28], ["Care Home", 20], ["Hospice", 5], ["Elsewhere", 2], ["Other communal establishment", 1]] as const);

const onsDeaths: TableGenerator = ({ facts: f }, rng, emit) => {
  if (f.onsDeath === null) return;
  const underlying = CAUSES.get(f.age >= 65)!.pick(rng);
  const causes = [underlying, ...Array.from({ length: rng.poisson(1.4) }, () => rng.pick(CONTRIBUTING_CAUSES))];
  const listed = [...new Set(causes)].slice(0, 15);
  // The underlying cause is usually on the certificate's first line, not always.
  if (listed.length > 1 && rng.chance(0.3)) listed.push(listed.shift()!);
  const rec: Rec = { date: iso(f.onsDeath), underlying_cause_of_death: underlying, place: f.age >= 85 && rng.chance(0.3) ? "Care Home" : PLACES.pick(rng) };
  for (let i = 1; i <= 15; i++) rec[`cause_of_death_${String(i).padStart(2, "0")}`] = listed[i - 1] ?? null;
  emit(rec);
};

// ==========================================================================
// THE TPP TABLES
// ==========================================================================

const RURAL_URBAN = new Weighted([[1, 35], [2, 3], [3, 45], [4, 1], [5, 8], [6, 1], [7, 6], [8, 1]] as const);
const ADDRESS_TYPES = new Weighted([[1, 92], [0, 3], [3, 5]] as const);

const addresses: TableGenerator = ({ facts: f }, rng, emit) => {
  // An address from the first registration; a new one at most practice moves, and at some other times.
  const moves = new Set<Day>();
  for (const r of f.registrations.slice(1)) if (rng.chance(0.7)) moves.add(r.start);
  for (let k = rng.poisson(0.3); k > 0; k--) {
    const d = dayRegistered(rng, f);
    if (d !== undefined) moves.add(d);
  }
  const starts = [f.registrations[0]!.start, ...[...moves].filter((d) => d > f.registrations[0]!.start).sort((a, b) => a - b)];
  const lastEnd = f.registrations[f.registrations.length - 1]!.end;
  const careHome = f.age >= 75 && rng.chance(f.age >= 85 ? 0.12 : 0.04);
  let imd = rng.int(0, 328) * 100;
  starts.forEach((start, k) => {
    const next = starts[k + 1];
    const atCareHome = careHome && next === undefined;
    const nursing = atCareHome && rng.chance(0.45);
    if (k > 0) imd = Math.min(32_800, Math.max(0, imd + rng.int(-60, 60) * 100));
    emit({
      address_id: f.id * 16 + (k % 16),
      start_date: iso(start),
      end_date: next === undefined ? isoOrNull(lastEnd) : iso(next - 1),
      address_type: ADDRESS_TYPES.pick(rng),
      rural_urban_classification: rng.chance(0.02) ? null : RURAL_URBAN.pick(rng),
      imd_rounded: rng.chance(0.02) ? null : imd,
      msoa_code: rng.chance(0.02) ? null : `E020${String(rng.int(1, 7201)).padStart(5, "0")}`,
      has_postcode: rng.chance(0.97),
      care_home_is_potential_match: atCareHome,
      care_home_requires_nursing: nursing,
      care_home_does_not_require_nursing: atCareHome && !nursing,
    });
  });
};

const apcs: TableGenerator = (ctx, _rng, emit) => {
  for (const s of ctx.spells) {
    emit({
      apcs_ident: s.ident,
      admission_date: iso(s.admission),
      discharge_date: iso(s.discharge),
      discharge_destination: s.dischargeDestination,
      discharge_method: s.dischargeMethod,
      spell_core_hrg_sus: s.hrg,
      admission_method: s.method,
      primary_diagnosis: s.primary,
      secondary_diagnosis: s.secondary,
      all_diagnoses: s.diagnoses.map((d) => `||${d} ,X`).join(" "),
      all_procedures: s.procedures.length ? s.procedures.map((p) => `||${p} ,Y`).join(" ") : null,
      days_in_critical_care: s.criticalCareDays,
      patient_classification: s.classification,
    });
  }
};

const apcsCost: TableGenerator = (ctx, rng, emit) => {
  for (const s of ctx.spells) {
    if (!rng.chance(0.93)) continue;
    const tariff = Math.round(s.cost * rng.uniform(0.85, 1) * 100) / 100;
    emit({
      apcs_ident: s.ident,
      grand_total_payment_mff: s.cost,
      tariff_initial_amount: Math.round(tariff * rng.uniform(0.9, 1) * 100) / 100,
      tariff_total_payment: tariff,
      admission_date: iso(s.admission),
      discharge_date: iso(s.discharge),
    });
  }
};

const ec: TableGenerator = (ctx, _rng, emit) => {
  for (const a of ctx.attendances) emit({ ec_ident: a.ident, arrival_date: iso(a.arrival), sus_hrg_code: a.hrg });
};

const ecCost: TableGenerator = (ctx, rng, emit) => {
  for (const a of ctx.attendances) {
    if (!rng.chance(0.95)) continue;
    emit({
      ec_ident: a.ident,
      grand_total_payment_mff: a.cost,
      tariff_total_payment: Math.round(a.cost * rng.uniform(0.9, 1) * 100) / 100,
      arrival_date: iso(a.arrival),
      ec_decision_to_admit_date: a.admitted ? iso(a.arrival) : null,
      ec_injury_date: a.injury ? iso(Math.max(ctx.facts.dob, a.arrival - (rng.chance(0.8) ? 0 : rng.int(1, 3)))) : null,
    });
  }
};

const DIAGNOSIS_COLUMNS = Array.from({ length: 24 }, (_, i) => `diagnosis_${String(i + 1).padStart(2, "0")}`);

const emergencyCareAttendances: TableGenerator = (ctx, _rng, emit) => {
  for (const a of ctx.attendances) {
    const rec: Rec = { id: a.ident, arrival_date: iso(a.arrival), discharge_destination: a.discharge };
    for (let i = 0; i < 24; i++) rec[DIAGNOSIS_COLUMNS[i]!] = a.diagnoses[i] ?? null;
    emit(rec);
  }
};

const opa: TableGenerator = (ctx, _rng, emit) => {
  for (const o of ctx.outpatients) {
    emit({
      opa_ident: o.ident,
      appointment_date: iso(o.date),
      attendance_status: o.status,
      consultation_medium_used: o.medium,
      first_attendance: o.first,
      hrg_code: o.hrg,
      outcome_of_attendance: o.outcome,
      referral_request_received_date: iso(o.referral),
      treatment_function_code: o.treatmentFunction,
    });
  }
};

const opaCost: TableGenerator = (ctx, rng, emit) => {
  for (const o of ctx.outpatients) {
    if (o.status !== "5" && o.status !== "6") continue;
    const tariff = Math.round(o.cost * rng.uniform(0.85, 1) * 100) / 100;
    emit({
      opa_ident: o.ident,
      tariff_opp: tariff,
      grand_total_payment_mff: o.cost,
      tariff_total_payment: tariff,
      appointment_date: iso(o.date),
      referral_request_received_date: iso(o.referral),
    });
  }
};

const opaDiag: TableGenerator = (ctx, rng, emit) => {
  for (const o of ctx.outpatients) {
    if (o.diagnosis === null) continue;
    emit({
      opa_ident: o.ident,
      primary_diagnosis_code: o.diagnosis,
      primary_diagnosis_code_read: rng.chance(0.1) ? rng.pick(CONDITIONS).codes[0]!.ctv3 : null,
      secondary_diagnosis_code_1: o.secondaryDiagnosis,
      secondary_diagnosis_code_1_read: null,
      appointment_date: iso(o.date),
      referral_request_received_date: iso(o.referral),
    });
  }
};

const opaProc: TableGenerator = (ctx, rng, emit) => {
  for (const o of ctx.outpatients) {
    if (o.procedure === null) continue;
    emit({
      opa_ident: o.ident,
      primary_procedure_code: o.procedure,
      primary_procedure_code_read: rng.chance(0.05) ? "7L1H." : null,
      procedure_code_2: o.procedure2,
      procedure_code_2_read: null,
      appointment_date: iso(o.date),
      referral_request_received_date: iso(o.referral),
    });
  }
};

// National ethnicity codes, weighted roughly as England's 2021 census.
const ETHNICITY_WEIGHTS: Record<string, number> = { A: 74, B: 1, C: 6.5, D: 0.6, E: 0.4, F: 0.6, G: 0.6, H: 3.3, J: 2.7, K: 1.1, L: 1.6, M: 1.1, N: 2.5, P: 0.5, R: 0.8, S: 2.2 };

const ethnicityPools = new WeakMap<SynthTable, Weighted<Scalar>>();

const ethnicityFromSus: TableGenerator = (_ctx, rng, emit, table) => {
  if (!rng.chance(0.85)) return;
  let pool = ethnicityPools.get(table);
  if (!pool) {
    const categories = table.columns.find((c) => c.name === "code")?.constraints.categories ?? Object.keys(ETHNICITY_WEIGHTS);
    pool = new Weighted(categories.map((c) => [c, ETHNICITY_WEIGHTS[String(c)] ?? 0.5] as const));
    ethnicityPools.set(table, pool);
  }
  emit({ code: pool.pick(rng) });
};

const APPOINTMENT_STATUS = new Weighted([
  ["Finished", 78], ["Did Not Attend", 5], ["Cancelled by Patient", 5], ["Cancelled by Unit", 3], ["Arrived", 1], ["In Progress", 0.5],
  ["Waiting", 0.5], ["Visit", 1], ["Booked", 0.5], ["Requested", 0.3], ["Blocked", 0.2], ["Cancelled by Other Service", 0.5],
  ["No Access Visit", 0.2], ["Cancelled Due To Death", 0.05], ["Patient Walked Out", 0.1],
] as const);
const SEEN = new Set(["Finished", "Arrived", "In Progress", "Visit", "Patient Walked Out", "Waiting"]);

const APPOINTMENTS_FROM = day(2015, 1, 1);

const appointments: TableGenerator = (ctx, rng, emit) => {
  // Half the consultations since 2015 were booked appointments.
  const seen = new Set<number>();
  for (const e of ctx.gp.encounters) {
    if (e.date < APPOINTMENTS_FROM || seen.has(e.date) || !rng.chance(0.5)) continue;
    seen.add(e.date);
    const status = APPOINTMENT_STATUS.pick(rng);
    const booked = Math.max(ctx.facts.dob, e.date - Math.floor(rng.exponential(6)));
    emit({ booked_date: iso(booked), start_date: iso(e.date), seen_date: SEEN.has(status) ? iso(e.date) : null, status });
  }
};

const decisionSupportValues: TableGenerator = ({ facts: f }, rng, emit) => {
  // The electronic frailty index, calculated for older patients from 2016.
  const from = Math.max(addYears(f.dob, 65), day(2016, 1, 1));
  if (from > f.end) return;
  const deficits = f.diagnoses.length;
  for (let k = 1 + rng.poisson(1.5); k > 0; k--) {
    const d = dayRegistered(rng, f, from);
    if (d === undefined) break;
    const age = yearsBetween(f.dob, d);
    const efi = Math.min(1, Math.max(0, 0.04 + 0.004 * (age - 65) + 0.028 * deficits + rng.normal(0, 0.03)));
    emit({ calculation_date: iso(d), numeric_value: Math.round(efi * 1000) / 1000, algorithm_description: "UK Electronic Frailty Index (eFI)", algorithm_version: rng.chance(0.95) ? "1.0" : "2.0" });
  }
};

const HOUSEHOLD_DAY = day(2020, 2, 1);

const householdMemberships2020: TableGenerator = (ctx, _rng, emit) => {
  if (!registrationOn(ctx.facts, HOUSEHOLD_DAY)) return;
  const h = ctx.households.of(ctx.facts.id);
  emit({ household_pseudo_id: h.id, household_size: h.size });
};

const parents: TableGenerator = (ctx, rng, emit) => {
  // A mother is recorded for some of those born in the record's era, when one lives in the same household.
  const f = ctx.facts;
  if (f.dob < day(1990, 1, 1) || !rng.chance(0.7)) return;
  const h = ctx.households.of(f.id);
  for (const m of h.members) {
    if (m === f.id) continue;
    const other = drawDemographics(ctx.seed, m);
    const gap = yearsBetween(other.dob, f.dob);
    if (other.sex === "female" && gap >= 16 && gap <= 45) return emit({ mother_id: m });
  }
};

const vaccinations: TableGenerator = (ctx, _rng, emit) => {
  for (const v of ctx.vaccinations) emit({ vaccination_id: v.id, date: iso(v.date), target_disease: v.disease, product_name: v.product });
};

const OPEN_PROMPT_CONCEPTS: readonly Concept[] = [
  ...ACUTE_PROBLEMS.filter((p) => ["Fatigue", "Dyspnoea", "Post-COVID-19 syndrome", "Headache", "Insomnia", "Joint pain", "Chest pain"].includes(p.concept.term)).map((p) => p.concept),
  ...CONDITIONS.filter((c) => ["depression", "anxiety"].includes(c.key)).map((c) => c.codes[0]!),
  ...SMOKING.current.slice(0, 2),
  MEASUREMENTS.alcoholUnits.concept,
];

const openPrompt: TableGenerator = ({ facts: f }, rng, emit) => {
  // About 1.5% of adults answered OpenPROMPT's questionnaires, up to four times a month apart.
  if (f.age < 18 || !rng.chance(0.015)) return;
  const first = day(2022, 11, 1) + rng.int(0, 180);
  if (first > f.end) return;
  const rounds = 1 + (rng.chance(0.5) ? rng.int(1, 3) : 0);
  for (let r = 0; r < rounds; r++) {
    const date = iso(Math.min(f.end, first + r * 30));
    const consultation = f.id * 4096 + 4000 + r;
    for (const concept of OPEN_PROMPT_CONCEPTS) {
      if (!rng.chance(0.7)) continue;
      emit({
        ctv3_code: concept.ctv3,
        snomedct_code: rng.chance(0.8) ? concept.snomed : null,
        creation_date: date,
        consultation_date: date,
        consultation_id: consultation,
        numeric_value: rng.chance(0.5) ? rng.int(0, 10) : null,
      });
    }
  }
};

const THERAPEUTICS = ["Paxlovid", "Molnupiravir", "Sotrovimab", "Remdesivir", "Casirivimab and imdevimab", "Tocilizumab", "Baricitinib"];
const NHS_REGIONS = ["East of England", "London", "Midlands", "North East and Yorkshire", "North West", "South East", "South West"];
const RISK_COHORTS = ["Solid cancer", "Immunosuppressed", "Renal disease", "Liver disease", "Downs syndrome", "Haematological diseases and stem cell transplant recipients", "IMID", "Rare neurological conditions", "HIV or AIDS"];
const THERAPEUTIC_STATUS = new Weighted([["Treatment Complete", 70], ["Approved", 15], ["Treatment Not Started", 8], ["Treatment Stopped", 7]] as const);
const INDICATION = new Weighted([["non_hospitalised", 85], ["hospitalised_with", 10], ["hospital_onset", 5]] as const);

const covidTherapeutics: TableGenerator = ({ facts: f }, rng, emit) => {
  const p = f.age >= 50 || f.diagnoses.length >= 2 ? 0.02 : 0.002;
  if (!rng.chance(p)) return;
  const received = dayAlive(rng, f, day(2021, 12, 16), day(2024, 3, 31));
  if (received === undefined) return;
  const status = THERAPEUTIC_STATUS.pick(rng);
  emit({
    covid_indication: INDICATION.pick(rng),
    current_status: status,
    intervention: rng.pick(THERAPEUTICS),
    received: iso(received),
    region: rng.pick(NHS_REGIONS),
    risk_cohort: Array.from({ length: 1 + (rng.chance(0.2) ? 1 : 0) }, () => rng.pick(RISK_COHORTS)).join(" and "),
    treatment_start_date: status === "Treatment Not Started" ? null : iso(Math.min(DATA_END, received + rng.int(0, 2))),
  });
};

const occupationOnCovidVaccineRecord: TableGenerator = (ctx, rng, emit) => {
  const f = ctx.facts;
  if (f.age < 18 || f.age > 70 || !ctx.vaccinations.some((v) => v.disease === "SARS-2 CORONAVIRUS") || !rng.chance(0.08)) return;
  emit({ is_healthcare_worker: rng.chance(0.9) });
};

const VARIANTS = ["VOC-20DEC-01 detected", "VOC-21APR-02", "VOC-21NOV-01", "V-22JAN-01", "VOC-22APR-03"];
const VARIANT_METHODS = ["Private Lab Sequencing", "Reflex Assay", "Sanger Provisional Result"];

const sgssCovidAllTests: TableGenerator = ({ facts: f }, rng, emit) => {
  if (!rng.chance(0.45)) return;
  const tests = 1 + rng.skewedCount(2, 0.8);
  for (let k = 0; k < tests; k++) {
    // Testing peaked in the winter of 2021–22.
    const from = rng.chance(0.5) ? day(2021, 11, 1) : day(2020, 3, 1);
    const to = from === day(2021, 11, 1) ? day(2022, 3, 31) : day(2022, 12, 31);
    const specimen = dayAlive(rng, f, from, to);
    if (specimen === undefined) continue;
    const positive = rng.chance(0.18);
    const sequenced = positive && rng.chance(0.3);
    emit({
      specimen_taken_date: iso(specimen),
      is_positive: positive,
      lab_report_date: iso(Math.min(DATA_END, specimen + rng.int(0, 3))),
      was_symptomatic: rng.chance(0.4) ? null : rng.chance(positive ? 0.6 : 0.3),
      sgtf_status: positive ? rng.pick([0, 1, 8, 9]) : null,
      variant: sequenced ? rng.pick(VARIANTS) : null,
      variant_detection_method: sequenced ? rng.pick(VARIANT_METHODS) : null,
    });
  }
};

const UKRR_DATASETS = ["2019_prevalence", "2020_prevalence", "2021_prevalence", "2020_incidence", "2020_ckd"];
const MODALITIES = ["ICHD", "HHD", "PD", "Tx"];

const ukrr: TableGenerator = ({ facts: f }, rng, emit) => {
  // Patients in secondary renal care: those with advanced kidney disease.
  if (f.age < 18 || f.physiology.egfr >= 30 || !rng.chance(0.5)) return;
  const rrt = dayAlive(rng, f, day(2005, 1, 1), day(2021, 12, 31));
  if (rrt === undefined) return;
  const centre = `R${String.fromCharCode(65 + rng.int(0, 25))}${String.fromCharCode(65 + rng.int(0, 25))}${rng.int(0, 9)}${rng.int(0, 9)}`;
  const modality = rng.pick(MODALITIES);
  for (const dataset of UKRR_DATASETS) {
    if (!rng.chance(0.4)) continue;
    emit({
      dataset,
      renal_centre: centre,
      rrt_start_date: iso(rrt),
      latest_creatinine: rng.int(250, 900),
      latest_egfr: Math.round(rng.uniform(4, 15) * 10) / 10,
      treatment_modality_start: modality,
      treatment_modality_prevalence: rng.chance(0.8) ? modality : rng.pick(MODALITIES),
    });
  }
};

const PRIORITIES = new Weighted([["routine", 80], ["urgent", 12], ["two week wait", 8]] as const);
const REFERRAL_SOURCES = ["01", "02", "03", "04", "05", "06", "10", "11", "12", "13", "14", "15", "16", "17", "92", "93", "97"];

/** The Sunday on or after a day (1970-01-01 was a Thursday). */
const weekEnding = (d: Day): Day => d + ((3 - (d % 7) + 7) % 7);
const pseudoId = (rng: Rng, n: number) => Array.from({ length: n }, () => "0123456789ABCDEF"[rng.int(0, 15)]).join("");

const wlClockstops: TableGenerator = ({ facts: f }, rng, emit, table) => {
  if (!rng.chance(0.05 + 0.001 * f.age)) return;
  const types = table.columns.find((c) => c.name === "waiting_list_type")?.constraints.categories ?? ["ORTT", "IRTT"];
  for (let k = 1 + (rng.chance(0.2) ? 1 : 0); k > 0; k--) {
    const referral = dayAlive(rng, f, day(2021, 5, 1), day(2025, 6, 30));
    if (referral === undefined) return;
    const end = Math.min(DATA_END, f.end, referral + 14 + Math.floor(rng.exponential(120)));
    emit({
      activity_treatment_function_code: rng.pick(TREATMENT_FUNCTIONS),
      priority_type_code: PRIORITIES.pick(rng),
      pseudo_organisation_code_patient_pathway_identifier_issuer: pseudoId(rng, 8),
      pseudo_patient_pathway_identifier: pseudoId(rng, 16),
      pseudo_referral_identifier: pseudoId(rng, 16),
      referral_request_received_date: iso(referral),
      referral_to_treatment_period_end_date: iso(end),
      referral_to_treatment_period_start_date: iso(referral),
      source_of_referral_for_outpatients: rng.pick(REFERRAL_SOURCES),
      waiting_list_type: rng.chance(0.8) && types.includes("ORTT") ? rng.pick(["ORTT", "IRTT"]) : (rng.pick(types) as string),
      week_ending_date: iso(Math.min(weekEnding(end), weekEnding(DATA_END - 6))),
    });
  }
};

const wlOpenpathways: TableGenerator = ({ facts: f }, rng, emit, table) => {
  if (!rng.chance(0.03 + 0.0008 * f.age)) return;
  const types = table.columns.find((c) => c.name === "waiting_list_type")?.constraints.categories ?? ["PTLO", "PTLI"];
  const referral = dayAlive(rng, f, day(2021, 5, 1), day(2025, 10, 31));
  if (referral === undefined) return;
  const ids = { issuer: pseudoId(rng, 8), pathway: pseudoId(rng, 16), referral: pseudoId(rng, 16) };
  const common = {
    activity_treatment_function_code: rng.pick(TREATMENT_FUNCTIONS),
    current_pathway_period_start_date: iso(referral),
    priority_type_code: PRIORITIES.pick(rng),
    pseudo_organisation_code_patient_pathway_identifier_issuer: ids.issuer,
    pseudo_patient_pathway_identifier: ids.pathway,
    pseudo_referral_identifier: ids.referral,
    referral_request_received_date: iso(referral),
    referral_to_treatment_period_end_date: null,
    referral_to_treatment_period_start_date: iso(referral),
    source_of_referral: rng.pick(REFERRAL_SOURCES),
    waiting_list_type: rng.chance(0.8) && types.includes("PTLO") ? "PTLO" : (rng.pick(types) as string),
  };
  // One row for each weekly snapshot the pathway is open in (a few of them).
  const snapshots = 1 + rng.poisson(2);
  let week = weekEnding(referral);
  for (let k = 0; k < snapshots && week <= Math.min(f.end, DATA_END); k++, week += 7 * rng.int(1, 4)) emit({ ...common, week_ending_date: iso(week) });
};

/** The generators for tables whose columns mean something, by stored table name. */
export const GENERATORS: Readonly<Record<string, TableGenerator>> = {
  patients,
  practice_registrations: practiceRegistrations,
  clinical_events: clinicalEvents,
  clinical_events_ranges: clinicalEventsRanges,
  medications,
  ons_deaths: onsDeaths,
  addresses,
  apcs,
  apcs_cost: apcsCost,
  ec,
  ec_cost: ecCost,
  emergency_care_attendances: emergencyCareAttendances,
  opa,
  opa_cost: opaCost,
  opa_diag: opaDiag,
  opa_proc: opaProc,
  ethnicity_from_sus: ethnicityFromSus,
  appointments,
  decision_support_values: decisionSupportValues,
  household_memberships_2020: householdMemberships2020,
  parents,
  vaccinations,
  open_prompt: openPrompt,
  covid_therapeutics: covidTherapeutics,
  occupation_on_covid_vaccine_record: occupationOnCovidVaccineRecord,
  sgss_covid_all_tests: sgssCovidAllTests,
  ukrr,
  wl_clockstops: wlClockstops,
  wl_openpathways: wlOpenpathways,
};

// ==========================================================================
// ANY OTHER TABLE OR COLUMN: values from the type and constraints alone
// ==========================================================================

const SNOMED_POOL = [...new Set([...CONDITIONS.flatMap((c) => c.codes), ...ACUTE_PROBLEMS.map((p) => p.concept), ...ADMIN_CODES.map((a) => a.concept)].map((c) => c.snomed))];
const CTV3_POOL = [...new Set([...CONDITIONS.flatMap((c) => c.codes), ...ACUTE_PROBLEMS.map((p) => p.concept), ...ADMIN_CODES.map((a) => a.concept)].map((c) => c.ctv3))];
const ICD10_POOL = [...new Set([...HOSPITAL_DIAGNOSES.map(([c]) => c), ...DEATH_CAUSES.map(([c]) => c)])];
const OPCS4_POOL = PROCEDURES.map(([c]) => c);
const DMD_POOL = Object.values(MEDICINES) as string[];

const CODE_POOLS: Partial<Record<ScalarType, readonly string[]>> = {
  snomedct: SNOMED_POOL,
  ctv3: CTV3_POOL,
  icd10: ICD10_POOL,
  opcs4: OPCS4_POOL,
  dmd: DMD_POOL,
  bnf: BNF_CODES,
};

export type Filler = (ctx: PatientContext, rng: Rng, anchor: Day | undefined) => Scalar;

/** Makes the value source for a column from its name, type and constraints. */
export function fillerFor(table: SynthTable, column: SynthColumn): Filler {
  const { name, type, constraints: k } = column;
  const nullable = !k.notNull;
  const maybeNull = (make: Filler): Filler => (nullable ? (ctx, rng, anchor) => (rng.chance(0.04) ? null : make(ctx, rng, anchor)) : make);

  if (k.categories && k.categories.length > 0) {
    const cats = k.categories;
    return maybeNull((_ctx, rng) => rng.pick(cats) as Scalar);
  }
  switch (type) {
    case "bool":
      return maybeNull((_ctx, rng) => rng.chance(/^(is|has|was)_/.test(name) ? 0.2 : 0.5));
    case "int": {
      if (k.range) {
        const [lo, hi] = k.range;
        const step = k.step ?? 1;
        const n = Math.floor((hi - lo) / step);
        return maybeNull((_ctx, rng) => lo + step * rng.int(0, n));
      }
      if (k.unique || /(^|_)(id|ident)$/.test(name)) {
        // Unique across the table: the patient id and a counter of the patient's rows.
        const counters = new WeakMap<PatientContext, number>();
        return (ctx) => {
          const n = counters.get(ctx) ?? 0;
          counters.set(ctx, n + 1);
          return ctx.facts.id * 1024 + (n % 1024);
        };
      }
      if (/size|count|number|days/.test(name)) return maybeNull((_ctx, rng) => rng.skewedCount(3, 1.5));
      return maybeNull((_ctx, rng) => rng.int(0, 100));
    }
    case "float": {
      if (k.range) {
        const [lo, hi] = k.range;
        return maybeNull((_ctx, rng) => Math.round(rng.uniform(lo, hi) * 100) / 100);
      }
      const money = /cost|payment|tariff|amount|price/.test(name);
      return maybeNull((_ctx, rng) => Math.round(Math.exp(rng.normal(money ? 6 : 2.5, 0.8)) * 100) / 100);
    }
    case "date": {
      const toMonth = k.firstOfMonth === true;
      return maybeNull((ctx, rng, anchor) => {
        let d = anchor ?? dayAlive(rng, ctx.facts, Math.max(ctx.facts.dob, day(2010, 1, 1))) ?? ctx.facts.dob;
        if (toMonth) d = firstOfMonth(d);
        return iso(d);
      });
    }
    case "str": {
      if (k.regex) {
        let gen: (rng: Rng) => string;
        try {
          gen = patternGenerator(k.regex);
        } catch (e) {
          throw new Error(`synth: column ${table.name}.${name}: ${(e as Error).message}`);
        }
        return maybeNull((_ctx, rng) => gen(rng));
      }
      // Opaque codes, a handful per column, the same for every run.
      const h = hashString(`${table.name}.${name}`);
      const values = Array.from({ length: 6 }, (_, i) => ((h >>> (i * 5)) % 36 ** 3).toString(36).toUpperCase().padStart(3, "0") + String(i));
      return maybeNull((_ctx, rng) => rng.pick(values));
    }
    case "icd10multi":
      return maybeNull((_ctx, rng) => Array.from({ length: 1 + rng.poisson(1) }, () => `||${rng.pick(ICD10_POOL)} ,X`).join(" "));
    case "opcs4multi":
      return maybeNull((_ctx, rng) => Array.from({ length: 1 + rng.poisson(0.5) }, () => `||${rng.pick(OPCS4_POOL)} ,Y`).join(" "));
    default: {
      const pool = CODE_POOLS[type];
      if (!pool) throw new Error(`synth: no values for column ${table.name}.${name} of type ${type}`);
      if (pool.some((code) => !isValidCode(type as Parameters<typeof isValidCode>[0], code))) throw new Error(`synth: an invalid ${type} code in the pool`);
      return maybeNull((_ctx, rng) => rng.pick(pool));
    }
  }
}

/**
 * A check of a column's constraints, or undefined when it has none worth checking.
 * Values a generator gives that fail it are replaced from the column's filler, so
 * a constraint added to the schema later never lets an invalid value through.
 */
export function validatorFor(column: SynthColumn): ((v: Scalar) => boolean) | undefined {
  const k = column.constraints;
  const checks: ((v: Scalar) => boolean)[] = [];
  if (k.categories && k.categories.length > 0) {
    const allowed = new Set<unknown>(k.categories);
    checks.push((v) => allowed.has(v));
  }
  if (k.range) {
    const [lo, hi] = k.range;
    const step = k.step;
    checks.push((v) => typeof v === "number" && v >= lo && v <= hi && (step === undefined || (v - lo) % step === 0));
  }
  if (k.regex) {
    const re = new RegExp(`^(?:${k.regex})$`);
    checks.push((v) => re.test(String(v)));
  }
  if (k.firstOfMonth && column.type === "date") checks.push((v) => typeof v === "string" && v.endsWith("-01"));
  if (checks.length === 0) return undefined;
  return (v) => checks.every((check) => check(v));
}

/** Rows for a table no generator knows: a few per patient (one at most for a patient table), dated within the record. */
export function genericGenerator(table: SynthTable): TableGenerator {
  return (_ctx, rng, emit) => {
    const n = table.patientLevel ? (rng.chance(0.7) ? 1 : 0) : rng.skewedCount(0.6, 0.6);
    for (let k = 0; k < n; k++) emit({});
  };
}
