// The core tables (`enclave/tables/core`): the tables every primary-care backend
// provides, stored in snake_case and used in camelCase, with ehrQL's helpers.

import { Q, type ScalarType } from "../../querymodel/index.js";
import { type Columns, type ColumnNames, EventFrameBase, PatientFrameBase, type SortedEventFrame } from "../frames.js";
import { type AnySeries, type BoolSeries, type DateSeries, type Dim, type IntSeries, type IsoDate, type PatientSeries, value } from "../series.js";
import { EnclaveError } from "../errors.js";

type DateArg = DateSeries<"patient"> | IsoDate | string;

/** What is known of a column's values (used by dummy data; not enforced on real data). */
export interface ColumnConstraints {
  readonly notNull?: true;
  readonly categories?: readonly (string | number | boolean)[];
  readonly firstOfMonth?: true;
  readonly range?: readonly [number, number];
  readonly unique?: true;
}

/** Column property → [stored name, type, constraints?]. */
export type TableColumns = Readonly<Record<string, readonly [string, ScalarType] | readonly [string, ScalarType, ColumnConstraints]>>;

export function storedSchema(cols: TableColumns): Record<string, ScalarType> {
  return Object.fromEntries(Object.values(cols).map(([stored, t]) => [stored, t]));
}
export function columnNames(cols: TableColumns): ColumnNames {
  return Object.fromEntries(Object.entries(cols).map(([prop, [stored]]) => [prop, stored]));
}

/** Builds a patient-level table of class `Ctor` over the stored table `name`. */
export function definePatientTable<F>(Ctor: new (node: never, cols: ColumnNames) => F, name: string, cols: TableColumns, permission?: string): F {
  return new Ctor(Q.selectPatientTable(name, storedSchema(cols), permission) as never, columnNames(cols));
}
export function defineEventTable<F>(Ctor: new (node: never, cols: ColumnNames) => F, name: string, cols: TableColumns, permission?: string): F {
  return new Ctor(Q.selectTable(name, storedSchema(cols), permission) as never, columnNames(cols));
}

// ---- patients ------------------------------------------------------------

const PATIENTS = {
  dateOfBirth: ["date_of_birth", "date", { firstOfMonth: true, notNull: true }],
  sex: ["sex", "str", { categories: ["female", "male", "intersex", "unknown"], notNull: true }],
  dateOfDeath: ["date_of_death", "date"],
} as const satisfies TableColumns;

export class PatientsFrame extends PatientFrameBase {
  declare readonly dateOfBirth: DateSeries<"patient">;
  declare readonly dateOfDeath: DateSeries<"patient">;
  /** Age in whole calendar years on the date (negative before birth). */
  ageOn(date: DateArg): IntSeries<"patient"> {
    return asDate("ageOn()", date).sub(this.dateOfBirth).years;
  }
  /** No date of death recorded on or before the date. */
  isAliveOn(date: DateArg): BoolSeries<"patient"> {
    return this.dateOfDeath.isAfter(date).or(this.dateOfDeath.isNull());
  }
  /** A date of death recorded before the date. */
  isDeadOn(date: DateArg): BoolSeries<"patient"> {
    return this.dateOfDeath.isNotNull().and(this.dateOfDeath.isBefore(date));
  }
}

function asDate(method: string, d: unknown): DateSeries<"patient"> {
  if (typeof d === "string") return valueDate(method, d);
  return d as DateSeries<"patient">;
}
function valueDate(method: string, d: string): DateSeries<"patient"> {
  const v = value(d);
  if ((v as { valueType?: string }).valueType !== "date") throw new EnclaveError(`${method}: ${JSON.stringify(d)} is not a date as YYYY-MM-DD`);
  return v as unknown as DateSeries<"patient">;
}

export const patients = definePatientTable(PatientsFrame, "patients", PATIENTS) as PatientsFrame & Columns<{ [K in keyof typeof PATIENTS]: (typeof PATIENTS)[K][1] }, "patient">;

// ---- practice registrations -------------------------------------------------

const REGISTRATIONS = {
  startDate: ["start_date", "date", { notNull: true }],
  endDate: ["end_date", "date"],
  practicePseudoId: ["practice_pseudo_id", "int", { notNull: true }],
} as const satisfies TableColumns;
type RegistrationSchema = { [K in keyof typeof REGISTRATIONS]: (typeof REGISTRATIONS)[K][1] };

export class PracticeRegistrationsFrame extends EventFrameBase {
  declare readonly startDate: DateSeries<"event">;
  declare readonly endDate: DateSeries<"event">;
  declare readonly practicePseudoId: IntSeries<"event">;
  /**
   * The registration on the date; with several, the latest start, then the
   * longest, then the highest practice id.
   */
  forPatientOn(date: DateArg) {
    const spanning = this.where(this.startDate.isOnOrBefore(date)).exceptWhere(this.endDate.isBefore(date));
    return (spanning.sortBy(this.startDate, this.endDate, this.practicePseudoId) as unknown as SortedEventFrame<RegistrationSchema>).lastForPatient();
  }
  /** Registered with a practice on the date. */
  existsForPatientOn(date: DateArg): BoolSeries<"patient"> {
    return this.spanning(date, date).existsForPatient();
  }
  /** The registrations that cover the whole period from start to end. */
  spanning(start: DateArg, end: DateArg): this {
    return this.where(this.startDate.isOnOrBefore(start).and(this.endDate.isAfter(end).or(this.endDate.isNull())));
  }
}

// `sortBy` listed first, so that sorting keeps the columns' types.
export type PracticeRegistrations = { sortBy(...keys: AnySeries[]): SortedEventFrame<RegistrationSchema> } & PracticeRegistrationsFrame & Columns<RegistrationSchema, "event">;
export const practiceRegistrations = defineEventTable(PracticeRegistrationsFrame, "practice_registrations", REGISTRATIONS) as PracticeRegistrations;

// ---- clinical events and medications ----------------------------------------

const CLINICAL_EVENTS = {
  date: ["date", "date"],
  snomedctCode: ["snomedct_code", "snomedct"],
  numericValue: ["numeric_value", "float"],
} as const satisfies TableColumns;
export const clinicalEvents = defineEventTable(EventFrameBase, "clinical_events", CLINICAL_EVENTS) as unknown as import("../frames.js").EventFrame<{
  [K in keyof typeof CLINICAL_EVENTS]: (typeof CLINICAL_EVENTS)[K][1];
}>;

const MEDICATIONS = {
  date: ["date", "date"],
  dmdCode: ["dmd_code", "dmd"],
} as const satisfies TableColumns;
export const medications = defineEventTable(EventFrameBase, "medications", MEDICATIONS) as unknown as import("../frames.js").EventFrame<{
  [K in keyof typeof MEDICATIONS]: (typeof MEDICATIONS)[K][1];
}>;

// ---- ONS deaths ---------------------------------------------------------------

const CAUSES = Array.from({ length: 15 }, (_, i) => `cause_of_death_${String(i + 1).padStart(2, "0")}`);
const ONS_DEATHS: TableColumns = {
  date: ["date", "date"],
  underlyingCauseOfDeath: ["underlying_cause_of_death", "icd10"],
  ...Object.fromEntries(CAUSES.map((c) => [c.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase()), [c, "icd10"] as const])),
};
type CauseColumns = `causeOfDeath${"01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12" | "13" | "14" | "15"}`;

export class OnsDeathsFrame extends PatientFrameBase {
  /** True when any code of the codelist is the underlying cause or any of the 15 causes. */
  causeOfDeathIsIn(codelist: readonly string[] | Readonly<Record<string, string>>): BoolSeries<"patient"> {
    const self = this as unknown as Record<string, { isIn(c: unknown): BoolSeries<"patient"> }>;
    const props = ["underlyingCauseOfDeath", ...CAUSES.map((c) => c.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase()))];
    return props.map((p) => self[p]!.isIn(codelist)).reduce((a, b) => a.or(b));
  }
}
export const onsDeaths = definePatientTable(OnsDeathsFrame, "ons_deaths", ONS_DEATHS) as OnsDeathsFrame &
  Columns<{ date: "date"; underlyingCauseOfDeath: "icd10" } & { [K in CauseColumns]: "icd10" }, "patient">;

export type { Dim, PatientSeries };

/**
 * The core tables by stored name, with their columns and what is known of
 * their values (the shape `tppTables` has): synthetic and dummy data read the
 * constraints from here rather than keeping a copy.
 */
export const coreTables = {
  patients: { name: "patients", columns: PATIENTS },
  practice_registrations: { name: "practice_registrations", columns: REGISTRATIONS },
  clinical_events: { name: "clinical_events", columns: CLINICAL_EVENTS },
  medications: { name: "medications", columns: MEDICATIONS },
  ons_deaths: { name: "ons_deaths", columns: ONS_DEATHS },
} as const satisfies Readonly<Record<string, { name: string; columns: TableColumns }>>;
