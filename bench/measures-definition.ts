// The benchmark's measures: two monthly measures over a year, each grouped by
// sex and age band, among patients registered at the start of each month.

import { INTERVAL, createMeasures, months, when } from "enclave";
import { clinicalEvents, medications, patients, practiceRegistrations } from "enclave/tables/core";

const hypertension = ["38341003", "59621000"];
const statins = ["320000009", "320006003", "320043001"];

const age = patients.ageOn(INTERVAL.startDate);
const ageBand = when(age.lt(40)).then("0-39").when(age.lt(60)).then("40-59").when(age.lt(80)).then("60-79").otherwise("80+");
const events = clinicalEvents.where(clinicalEvents.date.isDuring(INTERVAL));
const issues = medications.where(medications.date.isDuring(INTERVAL));

const measures = createMeasures();
measures.defineDefaults({
  denominator: practiceRegistrations.existsForPatientOn(INTERVAL.startDate).and(patients.isAliveOn(INTERVAL.startDate)),
  groupBy: { sex: patients.sex, age_band: ageBand },
  intervals: months(12).startingOn("2023-01-01"),
});
measures.defineMeasure("hypertension_coded", { numerator: events.where(events.snomedctCode.isIn(hypertension)).existsForPatient() });
measures.defineMeasure("statin_issued", { numerator: issues.where(issues.dmdCode.isIn(statins)).existsForPatient() });

export default measures;
