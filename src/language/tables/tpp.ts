// The TPP tables (`enclave/tables/tpp`): ehrQL's TPP schema, that is SystmOne's
// primary care record plus the national datasets linked to it. Tables and columns
// are stored under ehrQL's snake_case names and used in camelCase. A table that
// shares a core table's stored name has the core columns and more; `patients` is
// the core table itself, as in ehrQL.

import type { ScalarType } from "../../querymodel/index.js";
import { type Columns, EventFrameBase, type EventFrame, type PatientFrame, PatientFrameBase, type SortedEventFrame, type TableSchema, frameNode } from "../frames.js";
import { type AnySeries, type BoolSeries, type CaseExpression, type DateSeries, type Dim, type IntSeries, type IsoDate, type StrSeries, when } from "../series.js";
import { type ColumnConstraints, type TableColumns, OnsDeathsFrame, PracticeRegistrationsFrame, defineEventTable, definePatientTable, patients } from "./core.js";

export { patients };

type DateArg = DateSeries<"patient"> | IsoDate | string;

// ==========================================================================
// SCHEMA DESCRIPTION
// ==========================================================================

/** What is known of a column's values: the core constraints, and two more that ehrQL's TPP schema uses. */
export interface TppColumnConstraints extends ColumnConstraints {
  /** Every non-NULL value matches this regular expression in full (ehrQL's `Constraint.Regex`). */
  readonly regex?: string;
  /** With `range`: every value is also a multiple of this step (ehrQL's `ClosedRange(min, max, step)`). */
  readonly step?: number;
}

/** Column property → [stored name, type, constraints?]. */
export type TppTableColumns = Readonly<Record<string, readonly [string, ScalarType] | readonly [string, ScalarType, TppColumnConstraints]>>;

/** The stored types of a column map, keyed by column property. */
export type SchemaOf<C extends TppTableColumns> = { -readonly [K in keyof C]: C[K][1] };

/**
 * A table with helper methods: the frame class, its columns, and a `sortBy` that
 * keeps the columns' types (listed first, so it is the overload that applies).
 */
export type TableWithHelpers<F, S extends TableSchema> = { sortBy(...keys: AnySeries[]): SortedEventFrame<S> } & F & Columns<S, "event">;

/** The columns as the core table constructors take them (the TPP-only constraints are kept in `tppTables`). */
function coreColumns(columns: TppTableColumns): TableColumns {
  return Object.fromEntries(
    Object.entries(columns).map(([prop, [stored, type, constraints]]) => {
      if (!constraints) return [prop, [stored, type] as const];
      const { regex: _regex, step: _step, ...core } = constraints;
      return [prop, [stored, type, core] as const];
    }),
  );
}

/** One table of the TPP schema, as described here (for dummy data and documentation). */
export interface TppTable {
  readonly name: string;
  readonly kind: "patient" | "event";
  readonly columns: TppTableColumns;
  readonly requiredPermission?: string;
}

const TABLES: Record<string, TppTable> = {};

function register(name: string, kind: "patient" | "event", columns: TppTableColumns, requiredPermission?: string): void {
  TABLES[name] = Object.freeze({ name, kind, columns, ...(requiredPermission ? { requiredPermission } : {}) });
}

/** Every table of the TPP schema by stored name, with its columns, their constraints and its permission. */
export const tppTables: Readonly<Record<string, TppTable>> = TABLES;

function eventTable<const C extends TppTableColumns>(name: string, columns: C, permission?: string): EventFrame<SchemaOf<C>> {
  register(name, "event", columns, permission);
  return defineEventTable(EventFrameBase, name, coreColumns(columns), permission) as unknown as EventFrame<SchemaOf<C>>;
}

function patientTable<const C extends TppTableColumns>(name: string, columns: C, permission?: string): PatientFrame<SchemaOf<C>> {
  register(name, "patient", columns, permission);
  return definePatientTable(PatientFrameBase, name, coreColumns(columns), permission) as PatientFrame<SchemaOf<C>>;
}

// The permissions a project needs for the restricted tables (ehrQL's `required_permission`).
const APPOINTMENTS = "appointments";
const COVID_THERAPEUTICS = "covid_therapeutics";
const OCCUPATION_ON_COVID_VACCINE_RECORD = "occupation_on_covid_vaccine_record";
const OPEN_PROMPT = "open_prompt";
const SGSS_COVID_ALL_TESTS = "sgss_covid_all_tests";
const UKRR = "ukrr";
const WAITING_LIST = "waiting_list";

// ==========================================================================
// PATIENTS (the core table, re-exported)
// ==========================================================================

// Described here with ehrQL's core constraints, for dummy data.
register("patients", "patient", {
  dateOfBirth: ["date_of_birth", "date", { firstOfMonth: true, notNull: true }],
  sex: ["sex", "str", { categories: ["female", "male", "intersex", "unknown"], notNull: true }],
  dateOfDeath: ["date_of_death", "date"],
});

// ==========================================================================
// ADDRESSES
// ==========================================================================

// Addresses a patient registered with a practice, one row per address period, with
// the area characteristics (deprivation, rurality, care home) of each.
const ADDRESSES = {
  addressId: ["address_id", "int"],
  startDate: ["start_date", "date"],
  endDate: ["end_date", "date"],
  addressType: ["address_type", "int", { categories: [0, 1, 3] }],
  ruralUrbanClassification: ["rural_urban_classification", "int", { range: [1, 8] }],
  imdRounded: ["imd_rounded", "int", { range: [0, 32_800], step: 100 }],
  msoaCode: ["msoa_code", "str", { regex: "E020[0-9]{5}" }],
  hasPostcode: ["has_postcode", "bool"],
  careHomeIsPotentialMatch: ["care_home_is_potential_match", "bool"],
  careHomeRequiresNursing: ["care_home_requires_nursing", "bool"],
  careHomeDoesNotRequireNursing: ["care_home_does_not_require_nursing", "bool"],
} as const satisfies TppTableColumns;
export type AddressSchema = SchemaOf<typeof ADDRESSES>;

// There were 32,844 LSOAs in 2011; the bands are ehrQL's (the official ones),
// whose upper bounds are int(32844 * k / n) as Python computes them.
const LSOA_COUNT = 32_844;

/** Bands the rounded IMD rank into n strings; NULL (or above the top) is "unknown". */
function imdBands(imd: IntSeries<Dim>, n: number): StrSeries<Dim> {
  const upper = (k: number) => Math.trunc((LSOA_COUNT * k) / n);
  const label = (k: number) => (k === 1 ? "1 (most deprived)" : k === n ? `${n} (least deprived)` : String(k));
  // The rounded rank can be 0, so the first band starts at 0 (as in ehrQL).
  let bands: CaseExpression<StrSeries<Dim>, Dim> = when(imd.ge(0).and(imd.le(upper(1)))).then(label(1));
  for (let k = 2; k <= n; k++) bands = bands.when(imd.le(upper(k))).then(label(k));
  return bands.otherwise("unknown");
}

export class AddressesFrame extends EventFrameBase {
  declare readonly addressId: IntSeries<"event">;
  declare readonly startDate: DateSeries<"event">;
  declare readonly endDate: DateSeries<"event">;
  declare readonly imdRounded: IntSeries<"event">;
  declare readonly hasPostcode: BoolSeries<"event">;

  /** The IMD rank in quintiles: "1 (most deprived)", "2" … "5 (least deprived)", or "unknown". */
  get imdQuintile(): StrSeries<"event"> {
    return imdBands(this.imdRounded, 5) as StrSeries<"event">;
  }
  /** The IMD rank in deciles: "1 (most deprived)", "2" … "10 (least deprived)", or "unknown". */
  get imdDecile(): StrSeries<"event"> {
    return imdBands(this.imdRounded, 10) as StrSeries<"event">;
  }
  /**
   * The address on the date; with several, one with a postcode, then the latest
   * start, then the latest end (an open end sorts first), then the highest address id.
   */
  forPatientOn(date: DateArg): AddressRow {
    const spanning = this.where(this.startDate.le(date)).exceptWhere(this.endDate.lt(date));
    const ordered = spanning.sortBy(when(this.hasPostcode).then(1).otherwise(0), this.startDate, this.endDate, this.addressId);
    return new AddressRowFrame(frameNode(ordered.lastForPatient()), this.columnNames) as AddressRow;
  }
}

/** One address per patient (from `addresses.forPatientOn(date)`), with the IMD bands. */
export class AddressRowFrame extends PatientFrameBase {
  declare readonly imdRounded: IntSeries<"patient">;
  /** The IMD rank in quintiles: "1 (most deprived)", "2" … "5 (least deprived)", or "unknown". */
  get imdQuintile(): StrSeries<"patient"> {
    return imdBands(this.imdRounded, 5) as StrSeries<"patient">;
  }
  /** The IMD rank in deciles: "1 (most deprived)", "2" … "10 (least deprived)", or "unknown". */
  get imdDecile(): StrSeries<"patient"> {
    return imdBands(this.imdRounded, 10) as StrSeries<"patient">;
  }
}

export type Addresses = TableWithHelpers<AddressesFrame, AddressSchema>;
export type AddressRow = AddressRowFrame & Columns<AddressSchema, "patient">;
register("addresses", "event", ADDRESSES);
export const addresses = defineEventTable(AddressesFrame, "addresses", coreColumns(ADDRESSES)) as Addresses;

// ==========================================================================
// HOSPITAL ACTIVITY (SUS): APCS, EC, OPA
// ==========================================================================

// Admitted patient care spells: one row per continuous hospital stay within a trust.
export const apcs = eventTable("apcs", {
  apcsIdent: ["apcs_ident", "int", { notNull: true }],
  admissionDate: ["admission_date", "date"],
  dischargeDate: ["discharge_date", "date"],
  dischargeDestination: ["discharge_destination", "str"],
  dischargeMethod: ["discharge_method", "str"],
  spellCoreHrgSus: ["spell_core_hrg_sus", "str"],
  admissionMethod: ["admission_method", "str"],
  primaryDiagnosis: ["primary_diagnosis", "icd10"],
  secondaryDiagnosis: ["secondary_diagnosis", "icd10"],
  allDiagnoses: ["all_diagnoses", "icd10multi"],
  allProcedures: ["all_procedures", "opcs4multi"],
  daysInCriticalCare: ["days_in_critical_care", "int"],
  patientClassification: ["patient_classification", "str"],
});

// The cost of each admitted patient care spell.
export const apcsCost = eventTable("apcs_cost", {
  apcsIdent: ["apcs_ident", "int", { notNull: true }],
  grandTotalPaymentMff: ["grand_total_payment_mff", "float"],
  tariffInitialAmount: ["tariff_initial_amount", "float"],
  tariffTotalPayment: ["tariff_total_payment", "float"],
  admissionDate: ["admission_date", "date"],
  dischargeDate: ["discharge_date", "date"],
});

// Emergency care (A&E) attendances, core details.
export const ec = eventTable("ec", {
  ecIdent: ["ec_ident", "int", { notNull: true }],
  arrivalDate: ["arrival_date", "date"],
  susHrgCode: ["sus_hrg_code", "str", { regex: "[a-zA-Z]{2}[0-9]{2}[a-zA-Z]" }],
});

// The cost of each emergency care attendance.
export const ecCost = eventTable("ec_cost", {
  ecIdent: ["ec_ident", "int", { notNull: true }],
  grandTotalPaymentMff: ["grand_total_payment_mff", "float"],
  tariffTotalPayment: ["tariff_total_payment", "float"],
  arrivalDate: ["arrival_date", "date"],
  ecDecisionToAdmitDate: ["ec_decision_to_admit_date", "date"],
  ecInjuryDate: ["ec_injury_date", "date"],
});

// Emergency care attendances with their discharge destination and up to 24 SNOMED CT diagnoses.
export const emergencyCareAttendances = eventTable("emergency_care_attendances", {
  id: ["id", "int", { notNull: true }],
  arrivalDate: ["arrival_date", "date"],
  dischargeDestination: ["discharge_destination", "snomedct"],
  diagnosis01: ["diagnosis_01", "snomedct"],
  diagnosis02: ["diagnosis_02", "snomedct"],
  diagnosis03: ["diagnosis_03", "snomedct"],
  diagnosis04: ["diagnosis_04", "snomedct"],
  diagnosis05: ["diagnosis_05", "snomedct"],
  diagnosis06: ["diagnosis_06", "snomedct"],
  diagnosis07: ["diagnosis_07", "snomedct"],
  diagnosis08: ["diagnosis_08", "snomedct"],
  diagnosis09: ["diagnosis_09", "snomedct"],
  diagnosis10: ["diagnosis_10", "snomedct"],
  diagnosis11: ["diagnosis_11", "snomedct"],
  diagnosis12: ["diagnosis_12", "snomedct"],
  diagnosis13: ["diagnosis_13", "snomedct"],
  diagnosis14: ["diagnosis_14", "snomedct"],
  diagnosis15: ["diagnosis_15", "snomedct"],
  diagnosis16: ["diagnosis_16", "snomedct"],
  diagnosis17: ["diagnosis_17", "snomedct"],
  diagnosis18: ["diagnosis_18", "snomedct"],
  diagnosis19: ["diagnosis_19", "snomedct"],
  diagnosis20: ["diagnosis_20", "snomedct"],
  diagnosis21: ["diagnosis_21", "snomedct"],
  diagnosis22: ["diagnosis_22", "snomedct"],
  diagnosis23: ["diagnosis_23", "snomedct"],
  diagnosis24: ["diagnosis_24", "snomedct"],
});

// Outpatient appointments, core details.
export const opa = eventTable("opa", {
  opaIdent: ["opa_ident", "int", { notNull: true }],
  appointmentDate: ["appointment_date", "date"],
  // In the NHS Data Dictionary's order, which is not ascending.
  attendanceStatus: ["attendance_status", "str", { categories: ["5", "6", "7", "2", "3", "4", "0"] }],
  consultationMediumUsed: ["consultation_medium_used", "str", { categories: ["01", "02", "03", "04", "05", "09", "10", "11", "98"] }],
  firstAttendance: ["first_attendance", "str", { categories: ["1", "2", "3", "4", "5", "9"] }],
  hrgCode: ["hrg_code", "str", { regex: "[a-zA-Z]{2}[0-9]{2}[a-zA-Z]" }],
  outcomeOfAttendance: ["outcome_of_attendance", "str", { categories: ["1", "2", "3", "4", "5"] }],
  referralRequestReceivedDate: ["referral_request_received_date", "date"],
  treatmentFunctionCode: ["treatment_function_code", "str"],
});

// The cost of each outpatient appointment.
export const opaCost = eventTable("opa_cost", {
  opaIdent: ["opa_ident", "int", { notNull: true }],
  tariffOpp: ["tariff_opp", "float"],
  grandTotalPaymentMff: ["grand_total_payment_mff", "float"],
  tariffTotalPayment: ["tariff_total_payment", "float"],
  appointmentDate: ["appointment_date", "date"],
  referralRequestReceivedDate: ["referral_request_received_date", "date"],
});

// Diagnoses recorded at outpatient appointments (often absent).
export const opaDiag = eventTable("opa_diag", {
  opaIdent: ["opa_ident", "int", { notNull: true }],
  primaryDiagnosisCode: ["primary_diagnosis_code", "icd10"],
  primaryDiagnosisCodeRead: ["primary_diagnosis_code_read", "ctv3"],
  secondaryDiagnosisCode1: ["secondary_diagnosis_code_1", "icd10"],
  secondaryDiagnosisCode1Read: ["secondary_diagnosis_code_1_read", "ctv3"],
  appointmentDate: ["appointment_date", "date"],
  referralRequestReceivedDate: ["referral_request_received_date", "date"],
});

// Procedures recorded at outpatient appointments (mostly those that attract a payment).
export const opaProc = eventTable("opa_proc", {
  opaIdent: ["opa_ident", "int", { notNull: true }],
  primaryProcedureCode: ["primary_procedure_code", "opcs4"],
  primaryProcedureCodeRead: ["primary_procedure_code_read", "ctv3"],
  procedureCode2: ["procedure_code_2", "opcs4"],
  procedureCode2Read: ["procedure_code_2_read", "ctv3"],
  appointmentDate: ["appointment_date", "date"],
  referralRequestReceivedDate: ["referral_request_received_date", "date"],
});

// Ethnicity from SUS: the first character of each patient's most often recorded national ethnicity code.
export const ethnicityFromSus = patientTable("ethnicity_from_sus", {
  code: ["code", "str", { categories: ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S"] }],
});

// ==========================================================================
// PRIMARY CARE
// ==========================================================================

// Appointments booked with the GP practice (restricted: `appointments`).
export const appointments = eventTable(
  "appointments",
  {
    bookedDate: ["booked_date", "date"],
    startDate: ["start_date", "date"],
    seenDate: ["seen_date", "date"],
    status: [
      "status",
      "str",
      {
        categories: [
          "Booked",
          "Arrived",
          "Did Not Attend",
          "In Progress",
          "Finished",
          "Requested",
          "Blocked",
          "Visit",
          "Waiting",
          "Cancelled by Patient",
          "Cancelled by Unit",
          "Cancelled by Other Service",
          "No Access Visit",
          "Cancelled Due To Death",
          "Patient Walked Out",
        ],
      },
    ],
  },
  APPOINTMENTS,
);

// Coded clinical events; each is recorded twice, once with its CTV3 code and once with its SNOMED CT code.
export const clinicalEvents = eventTable("clinical_events", {
  date: ["date", "date"],
  snomedctCode: ["snomedct_code", "snomedct"],
  ctv3Code: ["ctv3_code", "ctv3"],
  numericValue: ["numeric_value", "float"],
  consultationId: ["consultation_id", "int"],
});

// Clinical events with the comparator and reference range of their numeric value (slow to query).
export const clinicalEventsRanges = eventTable("clinical_events_ranges", {
  date: ["date", "date"],
  snomedctCode: ["snomedct_code", "snomedct"],
  ctv3Code: ["ctv3_code", "ctv3"],
  numericValue: ["numeric_value", "float"],
  lowerBound: ["lower_bound", "float"],
  upperBound: ["upper_bound", "float"],
  comparator: ["comparator", "str", { categories: ["~", "=", ">=", ">", "<", "<="] }],
  consultationId: ["consultation_id", "int"],
});

// Values computed by decision support algorithms such as the electronic frailty index.
const DECISION_SUPPORT_VALUES = {
  calculationDate: ["calculation_date", "date"],
  numericValue: ["numeric_value", "float"],
  algorithmDescription: ["algorithm_description", "str"],
  algorithmVersion: ["algorithm_version", "str"],
} as const satisfies TppTableColumns;
export type DecisionSupportValueSchema = SchemaOf<typeof DECISION_SUPPORT_VALUES>;

export class DecisionSupportValuesFrame extends EventFrameBase {
  declare readonly algorithmDescription: StrSeries<"event">;
  declare readonly algorithmVersion: StrSeries<"event">;
  /** Every electronic frailty index (eFI) of version 1.0 calculated for each patient. */
  electronicFrailtyIndex(): this {
    return this.where(this.algorithmDescription.eq("UK Electronic Frailty Index (eFI)")).where(this.algorithmVersion.eq("1.0"));
  }
}
export type DecisionSupportValues = TableWithHelpers<DecisionSupportValuesFrame, DecisionSupportValueSchema>;
register("decision_support_values", "event", DECISION_SUPPORT_VALUES);
export const decisionSupportValues = defineEventTable(DecisionSupportValuesFrame, "decision_support_values", coreColumns(DECISION_SUPPORT_VALUES)) as DecisionSupportValues;

// Household membership as TPP inferred it on 2020-02-01.
export const householdMemberships2020 = patientTable("household_memberships_2020", {
  householdPseudoId: ["household_pseudo_id", "int"],
  householdSize: ["household_size", "int"],
});

// Prescribed medications (the core table), with the consultation of each issue.
export const medications = eventTable("medications", {
  date: ["date", "date"],
  dmdCode: ["dmd_code", "dmd"],
  consultationId: ["consultation_id", "int"],
});

// Responses to OpenPROMPT questionnaires (restricted: `open_prompt`).
export const openPrompt = eventTable(
  "open_prompt",
  {
    ctv3Code: ["ctv3_code", "ctv3", { notNull: true }],
    snomedctCode: ["snomedct_code", "snomedct"],
    creationDate: ["creation_date", "date", { notNull: true }],
    consultationDate: ["consultation_date", "date", { notNull: true }],
    consultationId: ["consultation_id", "int", { notNull: true }],
    numericValue: ["numeric_value", "float"],
  },
  OPEN_PROMPT,
);

// The patient id of each patient's mother, where SystmOne records one unambiguously.
export const parents = patientTable("parents", {
  motherId: ["mother_id", "int"],
});

// Registrations with practices (the core table), with each practice's region, STP and SystmOne start date.
const PRACTICE_REGISTRATIONS = {
  startDate: ["start_date", "date", { notNull: true }],
  endDate: ["end_date", "date"],
  practicePseudoId: ["practice_pseudo_id", "int", { notNull: true }],
  practiceStp: ["practice_stp", "str", { regex: "E540000[0-9]{2}" }],
  practiceNuts1RegionName: [
    "practice_nuts1_region_name",
    "str",
    {
      categories: ["North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands", "East", "London", "South East", "South West"],
    },
  ],
  practiceSystmoneGoLiveDate: ["practice_systmone_go_live_date", "date"],
} as const satisfies TppTableColumns;
export type PracticeRegistrationSchema = SchemaOf<typeof PRACTICE_REGISTRATIONS>;

export class TppPracticeRegistrationsFrame extends PracticeRegistrationsFrame {
  declare readonly practiceSystmoneGoLiveDate: DateSeries<"event">;
  /** The registration on the date, as the core table picks it, with the TPP columns. */
  override forPatientOn(date: DateArg): PatientFrame<PracticeRegistrationSchema> {
    return super.forPatientOn(date) as unknown as PatientFrame<PracticeRegistrationSchema>;
  }
  /** The registrations covering the whole period, at practices already using SystmOne on its first day. */
  spanningWithSystmone(start: DateArg, end: DateArg): this {
    return this.spanning(start, end).where(this.practiceSystmoneGoLiveDate.le(start));
  }
}
export type TppPracticeRegistrations = TableWithHelpers<TppPracticeRegistrationsFrame, PracticeRegistrationSchema>;
register("practice_registrations", "event", PRACTICE_REGISTRATIONS);
export const practiceRegistrations = defineEventTable(TppPracticeRegistrationsFrame, "practice_registrations", coreColumns(PRACTICE_REGISTRATIONS)) as TppPracticeRegistrations;

// Vaccinations given, by target disease or product name.
export const vaccinations = eventTable("vaccinations", {
  vaccinationId: ["vaccination_id", "int"],
  date: ["date", "date"],
  targetDisease: ["target_disease", "str"],
  productName: ["product_name", "str"],
});

// ==========================================================================
// OTHER LINKED DATASETS
// ==========================================================================

// COVID-19 antiviral and antibody treatment forms from NHS England (restricted: `covid_therapeutics`).
export const covidTherapeutics = eventTable(
  "covid_therapeutics",
  {
    covidIndication: ["covid_indication", "str", { categories: ["non_hospitalised", "hospitalised_with", "hospital_onset"] }],
    currentStatus: ["current_status", "str", { categories: ["Approved", "Treatment Complete", "Treatment Not Started", "Treatment Stopped"] }],
    intervention: ["intervention", "str"],
    received: ["received", "date"],
    region: ["region", "str"],
    riskCohort: ["risk_cohort", "str"],
    treatmentStartDate: ["treatment_start_date", "date"],
  },
  COVID_THERAPEUTICS,
);

// Whether a vaccine recipient said they were a health or care worker (restricted: `occupation_on_covid_vaccine_record`).
export const occupationOnCovidVaccineRecord = eventTable(
  "occupation_on_covid_vaccine_record",
  {
    isHealthcareWorker: ["is_healthcare_worker", "bool"],
  },
  OCCUPATION_ON_COVID_VACCINE_RECORD,
);

// Registered deaths from the ONS (the core table), with the place of death.
const ONS_DEATHS = {
  date: ["date", "date"],
  underlyingCauseOfDeath: ["underlying_cause_of_death", "icd10"],
  causeOfDeath01: ["cause_of_death_01", "icd10"],
  causeOfDeath02: ["cause_of_death_02", "icd10"],
  causeOfDeath03: ["cause_of_death_03", "icd10"],
  causeOfDeath04: ["cause_of_death_04", "icd10"],
  causeOfDeath05: ["cause_of_death_05", "icd10"],
  causeOfDeath06: ["cause_of_death_06", "icd10"],
  causeOfDeath07: ["cause_of_death_07", "icd10"],
  causeOfDeath08: ["cause_of_death_08", "icd10"],
  causeOfDeath09: ["cause_of_death_09", "icd10"],
  causeOfDeath10: ["cause_of_death_10", "icd10"],
  causeOfDeath11: ["cause_of_death_11", "icd10"],
  causeOfDeath12: ["cause_of_death_12", "icd10"],
  causeOfDeath13: ["cause_of_death_13", "icd10"],
  causeOfDeath14: ["cause_of_death_14", "icd10"],
  causeOfDeath15: ["cause_of_death_15", "icd10"],
  place: ["place", "str", { categories: ["Care Home", "Elsewhere", "Home", "Hospice", "Hospital", "Other communal establishment"] }],
} as const satisfies TppTableColumns;
export type OnsDeathSchema = SchemaOf<typeof ONS_DEATHS>;
export type TppOnsDeaths = OnsDeathsFrame & Columns<OnsDeathSchema, "patient">;
register("ons_deaths", "patient", ONS_DEATHS);
export const onsDeaths = definePatientTable(OnsDeathsFrame, "ons_deaths", coreColumns(ONS_DEATHS)) as TppOnsDeaths;

// SARS-CoV-2 test results from SGSS (restricted: `sgss_covid_all_tests`).
export const sgssCovidAllTests = eventTable(
  "sgss_covid_all_tests",
  {
    specimenTakenDate: ["specimen_taken_date", "date", { notNull: true }],
    isPositive: ["is_positive", "bool", { notNull: true }],
    labReportDate: ["lab_report_date", "date", { notNull: true }],
    wasSymptomatic: ["was_symptomatic", "bool"],
    sgtfStatus: ["sgtf_status", "int", { range: [0, 9] }],
    variant: ["variant", "str"],
    variantDetectionMethod: ["variant_detection_method", "str", { categories: ["Private Lab Sequencing", "Reflex Assay", "Sanger Provisional Result"] }],
  },
  SGSS_COVID_ALL_TESTS,
);

// UK Renal Registry cohorts of patients in secondary renal care (restricted: `ukrr`).
export const ukrr = eventTable(
  "ukrr",
  {
    dataset: ["dataset", "str", { categories: ["2019_prevalence", "2020_prevalence", "2021_prevalence", "2020_incidence", "2020_ckd"] }],
    renalCentre: ["renal_centre", "str"],
    rrtStartDate: ["rrt_start_date", "date"],
    latestCreatinine: ["latest_creatinine", "float"],
    latestEgfr: ["latest_egfr", "float"],
    treatmentModalityStart: ["treatment_modality_start", "str"],
    treatmentModalityPrevalence: ["treatment_modality_prevalence", "str"],
  },
  UKRR,
);

// Completed referral-to-treatment pathways from the Waiting List Minimum Data Set (restricted: `waiting_list`).
export const wlClockstops = eventTable(
  "wl_clockstops",
  {
    activityTreatmentFunctionCode: ["activity_treatment_function_code", "str", { regex: "[a-zA-Z0-9]{3}" }],
    priorityTypeCode: ["priority_type_code", "str", { categories: ["routine", "urgent", "two week wait"] }],
    pseudoOrganisationCodePatientPathwayIdentifierIssuer: ["pseudo_organisation_code_patient_pathway_identifier_issuer", "str"],
    pseudoPatientPathwayIdentifier: ["pseudo_patient_pathway_identifier", "str"],
    pseudoReferralIdentifier: ["pseudo_referral_identifier", "str"],
    referralRequestReceivedDate: ["referral_request_received_date", "date"],
    referralToTreatmentPeriodEndDate: ["referral_to_treatment_period_end_date", "date"],
    referralToTreatmentPeriodStartDate: ["referral_to_treatment_period_start_date", "date"],
    sourceOfReferralForOutpatients: ["source_of_referral_for_outpatients", "str"],
    waitingListType: ["waiting_list_type", "str", { categories: ["ORTT", "IRTT", "PTLO", "PTLI", "RTTO", "RTTI"] }],
    weekEndingDate: ["week_ending_date", "date"],
  },
  WAITING_LIST,
);

// Open pathways from the Waiting List Minimum Data Set, one row per week waited (restricted: `waiting_list`).
export const wlOpenpathways = eventTable(
  "wl_openpathways",
  {
    activityTreatmentFunctionCode: ["activity_treatment_function_code", "str", { regex: "[a-zA-Z0-9]{3}" }],
    currentPathwayPeriodStartDate: ["current_pathway_period_start_date", "date"],
    priorityTypeCode: ["priority_type_code", "str", { categories: ["routine", "urgent", "two week wait"] }],
    pseudoOrganisationCodePatientPathwayIdentifierIssuer: ["pseudo_organisation_code_patient_pathway_identifier_issuer", "str"],
    pseudoPatientPathwayIdentifier: ["pseudo_patient_pathway_identifier", "str"],
    pseudoReferralIdentifier: ["pseudo_referral_identifier", "str"],
    referralRequestReceivedDate: ["referral_request_received_date", "date"],
    referralToTreatmentPeriodEndDate: ["referral_to_treatment_period_end_date", "date"],
    referralToTreatmentPeriodStartDate: ["referral_to_treatment_period_start_date", "date"],
    sourceOfReferral: ["source_of_referral", "str", { regex: "[a-zA-Z0-9]{2}" }],
    waitingListType: ["waiting_list_type", "str", { categories: ["ORTT", "IRTT", "ONON", "INON", "PTLO", "PTLI", "RTTO", "RTTI"] }],
    weekEndingDate: ["week_ending_date", "date"],
  },
  WAITING_LIST,
);

Object.freeze(TABLES);
