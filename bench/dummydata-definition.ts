// The dummy data benchmark's definition: a type 2 diabetes cohort as a
// researcher would write it. Adults aged 18 to 89 registered with a practice on
// the index date and alive then, with a recorded diagnosis of type 2 diabetes;
// 20 variables over the core tables and addresses, mixing values every patient
// has (age, sex, counts) with ones that real records often lack (a recent HbA1c,
// a BMI, a smoking code, an address with a deprivation rank, a death).

import { createDataset, days, months, value, when, years } from "enclave";
import { clinicalEvents, medications, onsDeaths, patients, practiceRegistrations } from "enclave/tables/core";
import { addresses } from "enclave/tables/tpp";

const index = "2023-04-01";
const followUpEnd = "2024-03-31";

const type2Diabetes = ["44054006", "313436004", "237599002", "190388001"];
const hba1c = ["999791000000106", "1049301000000100"];
const bmi = ["60621009"];
const systolic = ["271649006", "72313002"];
const smoking = { "77176002": "current", "8517006": "former", "266919005": "never", "160603005": "current" };
const hypertension = ["38341003", "59621000"];
const metformin = ["39109611000001107", "325278007"];
const insulin = ["3473411000001109", "9448111000001104"];
const statins = ["320000009", "320006003", "320043001"];
const cardiovascularDeath = ["I21", "I219", "I63", "I639", "I64", "I500"];

const age = patients.ageOn(index);
const registration = practiceRegistrations.forPatientOn(index);
const before = clinicalEvents.where(clinicalEvents.date.isOnOrBefore(index));
const diabetes = before.where(before.snomedctCode.isIn(type2Diabetes));
const hba1cs = before.where(before.snomedctCode.isIn(hba1c)).where(before.numericValue.isNotNull());
const lastHba1c = hba1cs.sortBy(hba1cs.date, hba1cs.numericValue).lastForPatient();
const bmis = before.where(before.snomedctCode.isIn(bmi)).where(before.date.isAfter(value(index).sub(years(5))));
const lastBmi = bmis.sortBy(bmis.date).lastForPatient();
const systolics = before.where(before.snomedctCode.isIn(systolic));
const lastSmoking = before.where(before.snomedctCode.isIn(Object.keys(smoking))).sortBy(before.date).lastForPatient();
const medsBefore = medications.where(medications.date.isOnOrBefore(index));
const metforminIssues = medsBefore.where(medsBefore.dmdCode.isIn(metformin));
const insulinIssues = medsBefore.where(medsBefore.dmdCode.isIn(insulin)).where(medsBefore.date.isAfter(value(index).sub(months(12))));
const statinIssues = medsBefore.where(medsBefore.dmdCode.isIn(statins));
const address = addresses.forPatientOn(index);

const dataset = createDataset();
dataset.configureDummyData({ populationSize: 1000, seed: 1 });
dataset.definePopulation(
  practiceRegistrations
    .existsForPatientOn(index)
    .and(patients.isAliveOn(index))
    .and(age.ge(18))
    .and(age.lt(90))
    .and(diabetes.existsForPatient()),
);

dataset.addColumn("age", age);
dataset.addColumn("age_band", when(age.lt(40)).then("18-39").when(age.lt(60)).then("40-59").when(age.lt(75)).then("60-74").otherwise("75-89"));
dataset.addColumn("sex", patients.sex);
dataset.addColumn("practice", registration.practicePseudoId);
dataset.addColumn("registered_since", registration.startDate);
dataset.addColumn("registration_ends", registration.endDate);
dataset.addColumn("imd_rounded", address.imdRounded);
dataset.addColumn("first_diabetes_date", diabetes.sortBy(diabetes.date).firstForPatient().date);
dataset.addColumn("diabetes_codes", diabetes.countForPatient());
dataset.addColumn("latest_hba1c", lastHba1c.numericValue);
dataset.addColumn("latest_hba1c_date", lastHba1c.date);
dataset.addColumn("hba1c_tests_last_year", hba1cs.where(hba1cs.date.isAfter(value(index).sub(years(1)))).countForPatient());
dataset.addColumn("latest_bmi", lastBmi.numericValue);
dataset.addColumn("max_systolic", systolics.numericValue.maximumForPatient());
dataset.addColumn("smoking_status", lastSmoking.snomedctCode.toCategory(smoking));
dataset.addColumn("hypertension", before.where(before.snomedctCode.isIn(hypertension)).existsForPatient());
dataset.addColumn("first_metformin", metforminIssues.sortBy(metforminIssues.date).firstForPatient().date);
dataset.addColumn("insulin_issues_last_year", insulinIssues.countForPatient());
dataset.addColumn("on_statin", statinIssues.where(statinIssues.date.isAfter(value(index).sub(days(180)))).existsForPatient());
dataset.addColumn("date_of_death", patients.dateOfDeath);
dataset.addColumn("ons_death_date", onsDeaths.date);
dataset.addColumn("cardiovascular_death", onsDeaths.underlyingCauseOfDeath.isIn(cardiovascularDeath).and(onsDeaths.date.isOnOrBefore(followUpEnd)));

export default dataset;
