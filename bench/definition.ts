// The benchmark's definition: a realistic cardiovascular cohort with 18
// variables, written as a researcher would, against the core tables.

import { createDataset, value, when, years } from "enclave";
import { clinicalEvents, medications, patients, practiceRegistrations } from "enclave/tables/core";

const index = "2024-01-01";
const hypertension = ["38341003", "59621000"];
const diabetes = ["44054006", "73211009", "237599002"];
const systolic = ["271649006"];
const bmi = ["60621009"];
const statins = ["320000009", "320006003", "320043001"];

const age = patients.ageOn(index);
const registration = practiceRegistrations.forPatientOn(index);
const before = clinicalEvents.where(clinicalEvents.date.isOnOrBefore(index));
const hypertensive = before.where(before.snomedctCode.isIn(hypertension));
const systolics = before.where(before.snomedctCode.isIn(systolic));
const lastSystolic = systolics.sortBy(systolics.date).lastForPatient();
const bmis = before.where(before.snomedctCode.isIn(bmi));
const lastBmi = bmis.sortBy(bmis.date).lastForPatient();
const statinIssues = medications.where(medications.date.isOnOrBefore(index)).where(medications.dmdCode.isIn(statins));

const dataset = createDataset();
dataset.definePopulation(practiceRegistrations.existsForPatientOn(index).and(age.ge(18)).and(age.le(100)).and(hypertensive.existsForPatient()));

dataset.addColumn("age", age);
dataset.addColumn("sex", patients.sex);
dataset.addColumn("age_band", when(age.lt(40)).then("18-39").when(age.lt(60)).then("40-59").when(age.lt(80)).then("60-79").otherwise("80+"));
dataset.addColumn("practice", registration.practicePseudoId);
dataset.addColumn("registered_years", value(index).sub(registration.startDate).years);
dataset.addColumn("first_hypertension", hypertensive.sortBy(hypertensive.date).firstForPatient().date);
dataset.addColumn("has_diabetes", before.where(before.snomedctCode.isIn(diabetes)).existsForPatient());
dataset.addColumn("events_last_year", before.where(before.date.isAfter(value(index).sub(years(1)))).countForPatient());
dataset.addColumn("systolic_readings_5y", systolics.where(systolics.date.isAfter("2019-01-01")).countForPatient());
dataset.addColumn("last_systolic", lastSystolic.numericValue);
dataset.addColumn("last_systolic_date", lastSystolic.date);
dataset.addColumn("high_bp", lastSystolic.numericValue.ge(140));
dataset.addColumn("last_bmi", lastBmi.numericValue);
dataset.addColumn("first_statin", statinIssues.sortBy(statinIssues.date).firstForPatient().date);
dataset.addColumn("statins_last_year", statinIssues.where(statinIssues.date.isAfter("2023-01-01")).countForPatient());
dataset.addColumn("days_since_event", value(index).sub(before.date.maximumForPatient()).days);
dataset.addColumn("dead_by_2025", patients.isDeadOn("2025-01-01"));
dataset.addColumn("died_within_90_days", patients.dateOfDeath.isOnOrBetween(index, "2024-03-31"));

export default dataset;
