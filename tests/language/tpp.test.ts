// The TPP schema (`enclave/tables/tpp`): every table's stored name, kind, columns
// and permission as they reach the query model; the helpers' query-model shape;
// a few helpers run on the memory engine; and what the types accept.

import { describe, expect, expectTypeOf, it } from "vitest";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import type { Row } from "../../src/engines/types.js";
import { type Frame, type Scalar, type SelectPatientTable, type SelectTable, type Series, makeDataset } from "../../src/querymodel/index.js";
import { type BaseFrame, frameNode } from "../../src/language/frames.js";
import {
  type AnySeries,
  BoolSeries,
  CodeSeries,
  DateSeries,
  FloatSeries,
  IntSeries,
  MultiCodeSeries,
  StrSeries,
  isSeries,
  nodeOf,
} from "../../src/language/series.js";
import { createDataset } from "../../src/language/index.js";
import * as core from "../../src/language/tables/core.js";
import * as tpp from "../../src/language/tables/tpp.js";
import {
  addresses,
  apcs,
  clinicalEvents,
  decisionSupportValues,
  onsDeaths,
  patients,
  practiceRegistrations,
  tppTables,
} from "../../src/language/tables/tpp.js";

// ---------------------------------------------------------------------------
// What ehrQL's tpp.py defines, written out independently of the module:
// stored name → [export, kind, permission, "column:type ..."].
// ---------------------------------------------------------------------------

const ONS_CAUSES = Array.from({ length: 15 }, (_, i) => `cause_of_death_${String(i + 1).padStart(2, "0")}:icd10`).join(" ");
const ECA_DIAGNOSES = Array.from({ length: 24 }, (_, i) => `diagnosis_${String(i + 1).padStart(2, "0")}:snomedct`).join(" ");
const WL_IDS = "pseudo_organisation_code_patient_pathway_identifier_issuer:str pseudo_patient_pathway_identifier:str pseudo_referral_identifier:str";

const EXPECTED: Record<string, [exportName: string, kind: "patient" | "event", permission: string | undefined, columns: string]> = {
  addresses: [
    "addresses",
    "event",
    undefined,
    "address_id:int start_date:date end_date:date address_type:int rural_urban_classification:int imd_rounded:int msoa_code:str has_postcode:bool " +
      "care_home_is_potential_match:bool care_home_requires_nursing:bool care_home_does_not_require_nursing:bool",
  ],
  apcs: [
    "apcs",
    "event",
    undefined,
    "apcs_ident:int admission_date:date discharge_date:date discharge_destination:str discharge_method:str spell_core_hrg_sus:str admission_method:str " +
      "primary_diagnosis:icd10 secondary_diagnosis:icd10 all_diagnoses:icd10multi all_procedures:opcs4multi days_in_critical_care:int patient_classification:str",
  ],
  apcs_cost: [
    "apcsCost",
    "event",
    undefined,
    "apcs_ident:int grand_total_payment_mff:float tariff_initial_amount:float tariff_total_payment:float admission_date:date discharge_date:date",
  ],
  appointments: ["appointments", "event", "appointments", "booked_date:date start_date:date seen_date:date status:str"],
  clinical_events: ["clinicalEvents", "event", undefined, "date:date snomedct_code:snomedct ctv3_code:ctv3 numeric_value:float consultation_id:int"],
  clinical_events_ranges: [
    "clinicalEventsRanges",
    "event",
    undefined,
    "date:date snomedct_code:snomedct ctv3_code:ctv3 numeric_value:float lower_bound:float upper_bound:float comparator:str consultation_id:int",
  ],
  covid_therapeutics: [
    "covidTherapeutics",
    "event",
    "covid_therapeutics",
    "covid_indication:str current_status:str intervention:str received:date region:str risk_cohort:str treatment_start_date:date",
  ],
  decision_support_values: [
    "decisionSupportValues",
    "event",
    undefined,
    "calculation_date:date numeric_value:float algorithm_description:str algorithm_version:str",
  ],
  ec: ["ec", "event", undefined, "ec_ident:int arrival_date:date sus_hrg_code:str"],
  ec_cost: [
    "ecCost",
    "event",
    undefined,
    "ec_ident:int grand_total_payment_mff:float tariff_total_payment:float arrival_date:date ec_decision_to_admit_date:date ec_injury_date:date",
  ],
  emergency_care_attendances: [
    "emergencyCareAttendances",
    "event",
    undefined,
    `id:int arrival_date:date discharge_destination:snomedct ${ECA_DIAGNOSES}`,
  ],
  ethnicity_from_sus: ["ethnicityFromSus", "patient", undefined, "code:str"],
  household_memberships_2020: ["householdMemberships2020", "patient", undefined, "household_pseudo_id:int household_size:int"],
  medications: ["medications", "event", undefined, "date:date dmd_code:dmd consultation_id:int"],
  occupation_on_covid_vaccine_record: [
    "occupationOnCovidVaccineRecord",
    "event",
    "occupation_on_covid_vaccine_record",
    "is_healthcare_worker:bool",
  ],
  ons_deaths: ["onsDeaths", "patient", undefined, `date:date underlying_cause_of_death:icd10 ${ONS_CAUSES} place:str`],
  opa: [
    "opa",
    "event",
    undefined,
    "opa_ident:int appointment_date:date attendance_status:str consultation_medium_used:str first_attendance:str hrg_code:str " +
      "outcome_of_attendance:str referral_request_received_date:date treatment_function_code:str",
  ],
  opa_cost: [
    "opaCost",
    "event",
    undefined,
    "opa_ident:int tariff_opp:float grand_total_payment_mff:float tariff_total_payment:float appointment_date:date referral_request_received_date:date",
  ],
  opa_diag: [
    "opaDiag",
    "event",
    undefined,
    "opa_ident:int primary_diagnosis_code:icd10 primary_diagnosis_code_read:ctv3 secondary_diagnosis_code_1:icd10 secondary_diagnosis_code_1_read:ctv3 " +
      "appointment_date:date referral_request_received_date:date",
  ],
  opa_proc: [
    "opaProc",
    "event",
    undefined,
    "opa_ident:int primary_procedure_code:opcs4 primary_procedure_code_read:ctv3 procedure_code_2:opcs4 procedure_code_2_read:ctv3 " +
      "appointment_date:date referral_request_received_date:date",
  ],
  open_prompt: [
    "openPrompt",
    "event",
    "open_prompt",
    "ctv3_code:ctv3 snomedct_code:snomedct creation_date:date consultation_date:date consultation_id:int numeric_value:float",
  ],
  parents: ["parents", "patient", undefined, "mother_id:int"],
  patients: ["patients", "patient", undefined, "date_of_birth:date sex:str date_of_death:date"],
  practice_registrations: [
    "practiceRegistrations",
    "event",
    undefined,
    "start_date:date end_date:date practice_pseudo_id:int practice_stp:str practice_nuts1_region_name:str practice_systmone_go_live_date:date",
  ],
  sgss_covid_all_tests: [
    "sgssCovidAllTests",
    "event",
    "sgss_covid_all_tests",
    "specimen_taken_date:date is_positive:bool lab_report_date:date was_symptomatic:bool sgtf_status:int variant:str variant_detection_method:str",
  ],
  ukrr: [
    "ukrr",
    "event",
    "ukrr",
    "dataset:str renal_centre:str rrt_start_date:date latest_creatinine:float latest_egfr:float treatment_modality_start:str treatment_modality_prevalence:str",
  ],
  vaccinations: ["vaccinations", "event", undefined, "vaccination_id:int date:date target_disease:str product_name:str"],
  wl_clockstops: [
    "wlClockstops",
    "event",
    "waiting_list",
    `activity_treatment_function_code:str priority_type_code:str ${WL_IDS} referral_request_received_date:date ` +
      "referral_to_treatment_period_end_date:date referral_to_treatment_period_start_date:date source_of_referral_for_outpatients:str " +
      "waiting_list_type:str week_ending_date:date",
  ],
  wl_openpathways: [
    "wlOpenpathways",
    "event",
    "waiting_list",
    `activity_treatment_function_code:str current_pathway_period_start_date:date priority_type_code:str ${WL_IDS} ` +
      "referral_request_received_date:date referral_to_treatment_period_end_date:date referral_to_treatment_period_start_date:date " +
      "source_of_referral:str waiting_list_type:str week_ending_date:date",
  ],
};

// Counted by hand in ehrQL's tpp.py (its __all__, and each table's Series, core ones included).
const TABLE_COUNT = 29;
const COLUMN_COUNT = 205;

const parse = (spec: string): [string, string][] => spec.split(" ").map((c) => c.split(":") as [string, string]);
const camel = (snake: string) => snake.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase());
const exported = tpp as unknown as Record<string, unknown>;
const isFrame = (x: unknown): x is BaseFrame => typeof x === "object" && x !== null && Symbol.for("enclave.frame") in x;
const nodeOfFrame = (f: unknown): Frame => frameNode(f as BaseFrame);
/** The node of a table itself. */
const tableNode = (f: unknown) => frameNode(f as BaseFrame) as SelectTable | SelectPatientTable;
/** The table node under a frame built from a table (through filters, sorts and picks). */
function root(f: Frame): Frame {
  return "source" in f ? root(f.source) : f;
}

const SERIES_CLASS: Record<string, new (...a: never[]) => unknown> = {
  bool: BoolSeries,
  int: IntSeries,
  float: FloatSeries,
  str: StrSeries,
  date: DateSeries,
  snomedct: CodeSeries,
  ctv3: CodeSeries,
  icd10: CodeSeries,
  opcs4: CodeSeries,
  dmd: CodeSeries,
  icd10multi: MultiCodeSeries,
  opcs4multi: MultiCodeSeries,
};

describe("the TPP tables in the query model", () => {
  const frames = Object.entries(exported).filter(([, v]) => isFrame(v)) as [string, BaseFrame][];

  it(`exports exactly ehrQL's ${TABLE_COUNT} tables, with ${COLUMN_COUNT} columns in all`, () => {
    expect(Object.keys(EXPECTED)).toHaveLength(TABLE_COUNT);
    expect(frames.map(([name]) => name).sort()).toEqual(Object.values(EXPECTED).map(([name]) => name).sort());
    const storedNames = frames.map(([, f]) => tableNode(f).name);
    expect(new Set(storedNames).size).toBe(TABLE_COUNT);
    const columns = frames.reduce((n, [, f]) => n + Object.keys(tableNode(f).schema).length, 0);
    expect(columns).toBe(COLUMN_COUNT);
    expect(Object.values(EXPECTED).reduce((n, [, , , cols]) => n + parse(cols).length, 0)).toBe(COLUMN_COUNT);
  });

  for (const [stored, [exportName, kind, permission, spec]] of Object.entries(EXPECTED)) {
    describe(stored, () => {
      const table = exported[exportName];
      const node = tableNode(table);

      it(`is the ${kind} table "${stored}"`, () => {
        expect(node.kind).toBe(kind === "event" ? "SelectTable" : "SelectPatientTable");
        expect(node.name).toBe(stored);
      });

      it("has every column, with its stored name and type, in ehrQL's order", () => {
        expect(Object.entries(node.schema)).toEqual(parse(spec));
      });

      it("offers each column as a camelCase property of the right series type", () => {
        for (const [col, type] of parse(spec)) {
          const s = (table as Record<string, unknown>)[camel(col)];
          expect(isSeries(s), `${exportName}.${camel(col)}`).toBe(true);
          expect(s).toBeInstanceOf(SERIES_CLASS[type]!);
          const n = nodeOf(s as AnySeries);
          expect(n).toMatchObject({ kind: "SelectColumn", name: col, type });
        }
      });

      it(permission ? `requires the permission "${permission}"` : "requires no permission", () => {
        expect(node.requiredPermission).toBe(permission);
      });

      it("is described in tppTables as in the query model", () => {
        const t = tppTables[stored]!;
        expect(t).toBeDefined();
        expect(t.kind).toBe(kind);
        expect(t.requiredPermission).toBe(permission);
        expect(Object.entries(t.columns).map(([prop, [s, ty]]) => [prop, s, ty])).toEqual(parse(spec).map(([c, ty]) => [camel(c), c, ty]));
      });
    });
  }

  it("describes no other table in tppTables", () => {
    expect(Object.keys(tppTables).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it("marks exactly the eight restricted tables with a permission", () => {
    const restricted = Object.fromEntries(
      frames.flatMap(([, f]) => {
        const n = tableNode(f);
        return n.requiredPermission ? [[n.name, n.requiredPermission]] : [];
      }),
    );
    expect(restricted).toEqual({
      appointments: "appointments",
      covid_therapeutics: "covid_therapeutics",
      occupation_on_covid_vaccine_record: "occupation_on_covid_vaccine_record",
      open_prompt: "open_prompt",
      sgss_covid_all_tests: "sgss_covid_all_tests",
      ukrr: "ukrr",
      wl_clockstops: "waiting_list",
      wl_openpathways: "waiting_list",
    });
  });

  it("keeps the permission through filters, sorts and picks", () => {
    const picked = tpp.appointments.where(tpp.appointments.status.eq("Finished")).sortBy(tpp.appointments.startDate).lastForPatient();
    expect(root(nodeOfFrame(picked))).toMatchObject({ name: "appointments", requiredPermission: "appointments" });
  });

  it("gives tables that share a core table's stored name every core column, with the same type", () => {
    for (const name of ["patients", "practiceRegistrations", "clinicalEvents", "medications", "onsDeaths"] as const) {
      const coreSchema = tableNode(core[name]).schema;
      const tppNode = tableNode(tpp[name]);
      expect(tppNode.name).toBe(tableNode(core[name]).name);
      for (const [col, type] of Object.entries(coreSchema)) expect(tppNode.schema[col], `${name}.${col}`).toBe(type);
    }
    expect(tpp.patients).toBe(core.patients);
  });

  it("keeps ehrQL's constraints, those the core form cannot hold included", () => {
    const cols = (t: string) => tppTables[t]!.columns;
    expect(cols("addresses").imdRounded![2]).toEqual({ range: [0, 32_800], step: 100 });
    expect(cols("addresses").msoaCode![2]).toEqual({ regex: "E020[0-9]{5}" });
    expect(cols("addresses").addressType![2]).toEqual({ categories: [0, 1, 3] });
    expect(cols("apcs").apcsIdent![2]).toEqual({ notNull: true });
    expect(cols("patients").dateOfBirth![2]).toEqual({ firstOfMonth: true, notNull: true });
    expect(cols("sgss_covid_all_tests").sgtfStatus![2]).toEqual({ range: [0, 9] });
    expect(cols("ethnicity_from_sus").code![2]).toEqual({ categories: [..."ABCDEFGHJKLMNPRS"] });
    expect((cols("appointments").status![2] as { categories: string[] }).categories).toHaveLength(15);
    expect((cols("wl_openpathways").waitingListType![2] as { categories: string[] }).categories).toEqual(["ORTT", "IRTT", "ONON", "INON", "PTLO", "PTLI", "RTTO", "RTTI"]);
    const constrained = Object.values(tppTables).reduce((n, t) => n + Object.values(t.columns).filter((c) => c[2] !== undefined).length, 0);
    expect(constrained).toBe(48);
  });
});

// ---------------------------------------------------------------------------
// Helpers: their query-model shape
// ---------------------------------------------------------------------------

type AnyNode = Record<string, unknown>;
const n = (s: AnySeries) => nodeOf(s) as unknown as AnyNode;

describe("addresses.forPatientOn(date)", () => {
  const row = addresses.forPatientOn("2024-01-01");
  const pick = nodeOfFrame(row) as unknown as AnyNode;

  it("picks the last row of the addresses spanning the date, sorted by postcode, start, end, then id", () => {
    expect(pick).toMatchObject({ kind: "PickOneRowPerPatient", position: "last" });
    const sort = pick.source as AnyNode;
    expect(sort.kind).toBe("Sort");
    const keys = sort.sortBy as AnyNode[];
    expect(keys).toHaveLength(4);
    // case(when(has_postcode).then(1), otherwise=0)
    expect(keys[0]).toMatchObject({
      kind: "Case",
      type: "int",
      cases: [{ when: { kind: "SelectColumn", name: "has_postcode" }, then: { kind: "Value", value: 1 } }],
      otherwise: { kind: "Value", value: 0 },
    });
    expect(keys.slice(1).map((k) => [k.kind, k.name])).toEqual([
      ["SelectColumn", "start_date"],
      ["SelectColumn", "end_date"],
      ["SelectColumn", "address_id"],
    ]);
    // except_where(end_date < date) over where(start_date <= date) over the table
    const exceptWhere = sort.source as AnyNode;
    expect(exceptWhere.kind).toBe("Filter");
    expect(exceptWhere.condition).toMatchObject({
      kind: "Function",
      fn: "Or",
      args: [
        { fn: "Not", args: [{ fn: "LT", args: [{ name: "end_date" }, { kind: "Value", value: "2024-01-01" }] }] },
        { fn: "IsNull", args: [{ fn: "LT" }] },
      ],
    });
    const where = exceptWhere.source as AnyNode;
    expect(where).toMatchObject({ kind: "Filter", condition: { fn: "LE", args: [{ name: "start_date" }, { kind: "Value", value: "2024-01-01" }] } });
    expect(where.source).toBe(nodeOfFrame(addresses));
  });

  it("gives patient-level columns and the IMD bands", () => {
    expect(n(row.imdRounded)).toMatchObject({ kind: "SelectColumn", name: "imd_rounded", type: "int", source: pick });
    expect(row.imdRounded).toBeInstanceOf(IntSeries);
    expect(row.msoaCode).toBeInstanceOf(StrSeries);
    expect(n(row.imdQuintile)).toMatchObject({ kind: "Case", type: "str", otherwise: { value: "unknown" } });
    expect((n(row.imdQuintile).cases as AnyNode[]).map((c) => (c.then as AnyNode).value)).toEqual(["1 (most deprived)", "2", "3", "4", "5 (least deprived)"]);
    expect((n(row.imdDecile).cases as AnyNode[]).map((c) => (c.then as AnyNode).value)).toEqual([
      "1 (most deprived)",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "8",
      "9",
      "10 (least deprived)",
    ]);
  });

  it("bands with ehrQL's bounds, int(32844 * k / n)", () => {
    const bound = (c: AnyNode) => {
      const le = c.when as AnyNode;
      const cmp = le.fn === "And" ? ((le.args as AnyNode[])[1] as AnyNode) : le;
      return ((cmp.args as AnyNode[])[1] as AnyNode).value;
    };
    expect((n(row.imdQuintile).cases as AnyNode[]).map(bound)).toEqual([6568, 13137, 19706, 26275, 32844]);
    expect((n(row.imdDecile).cases as AnyNode[]).map(bound)).toEqual([3284, 6568, 9853, 13137, 16422, 19706, 22990, 26275, 29559, 32844]);
    // The first band also requires imd >= 0.
    expect((n(row.imdQuintile).cases as AnyNode[])[0]!.when).toMatchObject({ fn: "And", args: [{ fn: "GE", args: [{ name: "imd_rounded" }, { value: 0 }] }, { fn: "LE" }] });
  });

  it("has the IMD bands on the event table too", () => {
    expect(n(addresses.imdQuintile)).toMatchObject({ kind: "Case", type: "str" });
    expect(addresses.where(addresses.hasPostcode).imdDecile).toBeInstanceOf(StrSeries);
  });

  it("accepts a date series", () => {
    const d = patients.dateOfBirth;
    const where = ((nodeOfFrame(addresses.forPatientOn(d)) as unknown as AnyNode).source as AnyNode).source as AnyNode;
    expect(((where.source as AnyNode).condition as AnyNode).args).toMatchObject([{ name: "start_date" }, { name: "date_of_birth" }]);
  });

  it("refuses what is not a date", () => {
    expect(() => addresses.forPatientOn("2024-13-01")).toThrow();
  });
});

describe("practiceRegistrations", () => {
  it("forPatientOn picks as core does: latest start, then latest end, then highest practice id, with TPP columns", () => {
    const row = practiceRegistrations.forPatientOn("2024-01-01");
    const pick = nodeOfFrame(row) as unknown as AnyNode;
    expect(pick).toMatchObject({ kind: "PickOneRowPerPatient", position: "last" });
    const sort = pick.source as AnyNode;
    expect((sort.sortBy as AnyNode[]).map((k) => k.name)).toEqual(["start_date", "end_date", "practice_pseudo_id"]);
    expect(root(sort as unknown as Frame)).toBe(nodeOfFrame(practiceRegistrations));
    expect(n(row.practiceNuts1RegionName)).toMatchObject({ name: "practice_nuts1_region_name", type: "str", source: pick });
    expect(row.practiceSystmoneGoLiveDate).toBeInstanceOf(DateSeries);
    // The same node as core's helper builds over the TPP table.
    expect(JSON.stringify(pick.source)).toContain('"fn":"LE"');
  });

  it("spanningWithSystmone(a, b) is spanning(a, b) where the go-live date is on or before a", () => {
    const f = practiceRegistrations.spanningWithSystmone("2020-01-01", "2021-01-01");
    const outer = nodeOfFrame(f) as unknown as AnyNode;
    expect(outer).toMatchObject({
      kind: "Filter",
      condition: { fn: "LE", args: [{ name: "practice_systmone_go_live_date" }, { value: "2020-01-01" }] },
    });
    const spanning = nodeOfFrame(practiceRegistrations.spanning("2020-01-01", "2021-01-01"));
    expect(outer.source).toEqual(spanning);
    expect((outer.source as AnyNode).source).toBe(nodeOfFrame(practiceRegistrations));
    // The result keeps the table's helpers and columns.
    expect(f.spanningWithSystmone).toBeTypeOf("function");
    expect(f.practiceStp).toBeInstanceOf(StrSeries);
    expect(f.existsForPatient()).toBeInstanceOf(BoolSeries);
  });

  it("keeps core's existsForPatientOn and spanning", () => {
    expect(n(practiceRegistrations.existsForPatientOn("2020-01-01"))).toMatchObject({ kind: "Aggregate", fn: "Exists" });
    expect(nodeOfFrame(practiceRegistrations.spanning("2020-01-01", "2020-12-31")).kind).toBe("Filter");
  });
});

describe("the other helpers", () => {
  it("decisionSupportValues.electronicFrailtyIndex() keeps eFI version 1.0 rows", () => {
    const efi = decisionSupportValues.electronicFrailtyIndex();
    const outer = nodeOfFrame(efi) as unknown as AnyNode;
    expect(outer).toMatchObject({ kind: "Filter", condition: { fn: "EQ", args: [{ name: "algorithm_version" }, { value: "1.0" }] } });
    expect(outer.source).toMatchObject({
      kind: "Filter",
      condition: { fn: "EQ", args: [{ name: "algorithm_description" }, { value: "UK Electronic Frailty Index (eFI)" }] },
      source: nodeOfFrame(decisionSupportValues),
    });
    expect(efi.numericValue.maximumForPatient()).toBeInstanceOf(FloatSeries);
    expect(efi.sortBy(efi.calculationDate).lastForPatient().numericValue).toBeInstanceOf(FloatSeries);
  });

  it("patients keeps core's ageOn, isAliveOn and isDeadOn", () => {
    expect(n(patients.ageOn("2024-01-01"))).toMatchObject({ fn: "DateDifferenceInYears", type: "int" });
    expect(patients.isAliveOn("2024-01-01")).toBeInstanceOf(BoolSeries);
    expect(patients.isDeadOn(patients.dateOfBirth)).toBeInstanceOf(BoolSeries);
  });

  it("onsDeaths.causeOfDeathIsIn tests the underlying cause and the 15 causes, not the place", () => {
    const s = JSON.stringify(nodeOf(onsDeaths.causeOfDeathIsIn(["I21"])));
    expect(s.match(/"kind":"SelectColumn"/g)).toHaveLength(16);
    expect(s).toContain("underlying_cause_of_death");
    expect(s).toContain("cause_of_death_15");
    expect(s).not.toContain('"name":"place"');
    expect(onsDeaths.place).toBeInstanceOf(StrSeries);
  });

  it("clinicalEvents has both code columns", () => {
    expect(clinicalEvents.where(clinicalEvents.ctv3Code.isIn(["XaBVJ"])).existsForPatient()).toBeInstanceOf(BoolSeries);
    expect(clinicalEvents.snomedctCode.isIn(["22298006"])).toBeInstanceOf(BoolSeries);
  });

  it("apcs multi-code columns take contains()", () => {
    expect(apcs.where(apcs.allDiagnoses.contains("N17")).countForPatient()).toBeInstanceOf(IntSeries);
    expect(apcs.allProcedures.containsAnyOf(["W232", "X30"])).toBeInstanceOf(BoolSeries);
  });
});

// ---------------------------------------------------------------------------
// Helpers run on the memory engine
// ---------------------------------------------------------------------------

async function evaluate(population: AnySeries, variables: Record<string, AnySeries>, tables: Record<string, Row[]>): Promise<Record<number, Scalar[]>> {
  const ds = makeDataset(
    nodeOf(population) as Series,
    Object.entries(variables).map(([name, s]) => ({ name, series: nodeOf(s) as Series })),
  );
  const out: Row[] = [];
  for await (const batch of new MemoryEngine(new RowsTableReader(tables)).execute(ds)) out.push(...batch);
  return Object.fromEntries(out.map(([pid, ...rest]) => [pid as number, rest]));
}

/** An addresses row: [patient, id, start, end, imd, has_postcode]; the rest NULL. */
function address(pid: number, id: number, start: string | null, end: string | null, imd: number | null, postcode: boolean | null): Row {
  return [pid, id, start, end, null, null, imd, null, postcode, null, null, null];
}

describe("helpers on data", () => {
  it("addresses.forPatientOn prefers a postcode, then the latest start, then the longest, then the highest id", async () => {
    const d = "2024-01-01";
    const row = addresses.forPatientOn(d);
    const got = await evaluate(addresses.existsForPatient(), { id: row.addressId }, {
      addresses: [
        // 1: the row with a postcode wins over a later one without
        address(1, 10, "2020-01-01", null, 100, true),
        address(1, 11, "2023-01-01", null, 100, false),
        // 2: both with postcodes: the latest start
        address(2, 20, "2020-01-01", null, 100, true),
        address(2, 21, "2022-01-01", "2030-01-01", 100, true),
        // 3: same start: the later end wins, and NULL (open) sorts first, so a dated end beats it
        address(3, 30, "2020-01-01", "2025-01-01", 100, true),
        address(3, 31, "2020-01-01", null, 100, true),
        // 4: an exact tie: the highest id
        address(4, 41, "2020-01-01", "2025-01-01", 100, true),
        address(4, 40, "2020-01-01", "2025-01-01", 100, true),
        // 5: ends before the date, or starts after it: none; an end on the date still spans it
        address(5, 50, "2020-01-01", "2023-12-31", 100, true),
        address(5, 51, "2024-01-02", null, 100, true),
        address(6, 60, "2020-01-01", "2024-01-01", 100, true),
        // 7: a NULL has_postcode counts as no postcode
        address(7, 70, "2021-01-01", null, 100, null),
        address(7, 71, "2020-01-01", null, 100, true),
      ],
    });
    expect(got).toEqual({ 1: [10], 2: [21], 3: [30], 4: [41], 5: [null], 6: [60], 7: [71] });
  });

  it("imdQuintile and imdDecile band as ehrQL does, NULL and out-of-range included", async () => {
    const imds = [0, 6568, 6569, 13137, 13138, 32844, 32845, null, -100, 3284, 3285, 16422, 29559, 29560];
    const rows = imds.map((imd, i) => address(i + 1, 1, "2020-01-01", null, imd, true));
    const row = addresses.forPatientOn("2024-01-01");
    const got = await evaluate(addresses.existsForPatient(), { q: row.imdQuintile, d: row.imdDecile }, { addresses: rows });
    expect(imds.map((_, i) => got[i + 1])).toEqual([
      ["1 (most deprived)", "1 (most deprived)"],
      ["1 (most deprived)", "2"],
      ["2", "3"],
      ["2", "4"],
      ["3", "5"],
      ["5 (least deprived)", "10 (least deprived)"],
      ["unknown", "unknown"],
      ["unknown", "unknown"],
      // A negative rank fails the first band's >= 0 and falls in the second, as in ehrQL.
      ["2", "2"],
      ["1 (most deprived)", "1 (most deprived)"],
      ["1 (most deprived)", "2"],
      ["3", "5"],
      ["5 (least deprived)", "9"],
      ["5 (least deprived)", "10 (least deprived)"],
    ]);
  });

  it("spanningWithSystmone drops practices that went live after the start, or whose go-live date is unknown", async () => {
    // [patient, start, end, practice, stp, region, go-live]
    const reg = (pid: number, start: string, end: string | null, practice: number, goLive: string | null): Row => [pid, start, end, practice, null, null, goLive];
    const spanning = practiceRegistrations.spanningWithSystmone("2020-01-01", "2020-12-31");
    const got = await evaluate(
      practiceRegistrations.existsForPatient(),
      { n: spanning.countForPatient(), plain: practiceRegistrations.spanning("2020-01-01", "2020-12-31").countForPatient() },
      {
        practice_registrations: [
          reg(1, "2019-01-01", null, 1, "2019-06-01"), // live before the start
          reg(2, "2019-01-01", null, 2, "2020-01-01"), // live on the start
          reg(3, "2019-01-01", null, 3, "2020-01-02"), // live after the start
          reg(4, "2019-01-01", null, 4, null), // unknown
          reg(5, "2020-02-01", null, 5, "2010-01-01"), // does not span the period
        ],
      },
    );
    expect(got).toEqual({ 1: [1, 1], 2: [1, 1], 3: [0, 1], 4: [0, 1], 5: [0, 0] });
  });
});

// ---------------------------------------------------------------------------
// Types: checked by `tsc`, never run
// ---------------------------------------------------------------------------

describe("types", () => {
  it("type-checks (see tsc)", () => {
    expect(typeChecks).toBeTypeOf("function");
  });
});

function typeChecks(): void {
  const d = "2024-01-01";
  expectTypeOf(addresses.forPatientOn(d).imdRounded).toEqualTypeOf<IntSeries<"patient">>();
  expectTypeOf(addresses.forPatientOn(d).imdQuintile).toEqualTypeOf<StrSeries<"patient">>();
  expectTypeOf(addresses.forPatientOn(patients.dateOfBirth).hasPostcode).toEqualTypeOf<BoolSeries<"patient">>();
  expectTypeOf(addresses.imdDecile).toEqualTypeOf<StrSeries<"event">>();
  expectTypeOf(addresses.where(addresses.hasPostcode).forPatientOn(d).msoaCode).toEqualTypeOf<StrSeries<"patient">>();
  expectTypeOf(addresses.sortBy(addresses.startDate).firstForPatient().imdRounded).toEqualTypeOf<IntSeries<"patient">>();
  expectTypeOf(apcs.admissionDate).toEqualTypeOf<DateSeries<"event">>();
  expectTypeOf(apcs.primaryDiagnosis).toEqualTypeOf<CodeSeries<"icd10", "event">>();
  expectTypeOf(apcs.allDiagnoses).toEqualTypeOf<MultiCodeSeries<"icd10multi", "event">>();
  expectTypeOf(apcs.sortBy(apcs.admissionDate).lastForPatient().dischargeDate).toEqualTypeOf<DateSeries<"patient">>();
  expectTypeOf(clinicalEvents.ctv3Code).toEqualTypeOf<CodeSeries<"ctv3", "event">>();
  expectTypeOf(tpp.ethnicityFromSus.code).toEqualTypeOf<StrSeries<"patient">>();
  expectTypeOf(tpp.emergencyCareAttendances.diagnosis24).toEqualTypeOf<CodeSeries<"snomedct", "event">>();
  expectTypeOf(onsDeaths.place).toEqualTypeOf<StrSeries<"patient">>();
  expectTypeOf(onsDeaths.causeOfDeathIsIn(["I21"])).toEqualTypeOf<BoolSeries<"patient">>();
  expectTypeOf(practiceRegistrations.forPatientOn(d).practiceNuts1RegionName).toEqualTypeOf<StrSeries<"patient">>();
  expectTypeOf(practiceRegistrations.forPatientOn(d).practicePseudoId).toEqualTypeOf<IntSeries<"patient">>();
  expectTypeOf(practiceRegistrations.spanningWithSystmone(d, d).practiceSystmoneGoLiveDate).toEqualTypeOf<DateSeries<"event">>();
  expectTypeOf(practiceRegistrations.existsForPatientOn(d)).toEqualTypeOf<BoolSeries<"patient">>();
  expectTypeOf(decisionSupportValues.electronicFrailtyIndex().numericValue).toEqualTypeOf<FloatSeries<"event">>();
  expectTypeOf(patients.ageOn(d)).toEqualTypeOf<IntSeries<"patient">>();

  const dataset = createDataset();
  dataset.addColumn("imd", addresses.forPatientOn(d).imdQuintile);
  dataset.addColumn("region", practiceRegistrations.forPatientOn(d).practiceNuts1RegionName);

  // Misuse fails.
  // @ts-expect-error: no such column
  void addresses.forPatientOn(d).imdRank;
  // @ts-expect-error: an event-level series is not a dataset column
  dataset.addColumn("x", apcs.admissionDate);
  // @ts-expect-error: a date is not an int
  void addresses.forPatientOn(d).imdRounded.gt(apcs.admissionDate.maximumForPatient());
  // @ts-expect-error: a number is not a date
  void practiceRegistrations.spanningWithSystmone(1, 2);
  // @ts-expect-error: multi-code strings have no order
  void apcs.allDiagnoses.maximumForPatient();
  // @ts-expect-error: a CTV3 code is not a SNOMED CT code
  void clinicalEvents.ctv3Code.eq(clinicalEvents.snomedctCode);
  // @ts-expect-error: electronicFrailtyIndex is a decision support values helper
  void tpp.clinicalEventsRanges.electronicFrailtyIndex();
  // @ts-expect-error: the picked row has no table helpers
  void practiceRegistrations.forPatientOn(d).spanningWithSystmone(d, d);
}
