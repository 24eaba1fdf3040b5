// Adults registered with a practice and alive on the index date: their age
// band, sex, whether they have asthma, and their asthma reviews in the year
// before. On your machine this runs on dummy data; in the secure backend, on
// the real records.

import { codelistFromCsv, createDataset, value, when, years } from "enclave";
import { clinicalEvents, patients, practiceRegistrations } from "enclave/tables/core";

const indexDate = "2024-03-31";
const yearBefore = value(indexDate).sub(years(1));

// Codelist paths are relative to this file.
const asthmaDiagnosis = codelistFromCsv("../codelists/user-enclave-example-asthma-diagnosis.csv", { column: "code" });
const asthmaReview = codelistFromCsv("../codelists/user-enclave-example-asthma-review.csv", { column: "code" });

const age = patients.ageOn(indexDate);
const events = clinicalEvents.where(clinicalEvents.date.isOnOrBefore(indexDate));

const dataset = createDataset();
dataset.configureDummyData({ populationSize: 1000 });
dataset.definePopulation(practiceRegistrations.existsForPatientOn(indexDate).and(patients.isAliveOn(indexDate)).and(age.ge(18)));

dataset.addColumn("age_band", when(age.lt(40)).then("18-39").when(age.lt(60)).then("40-59").when(age.lt(80)).then("60-79").otherwise("80+"));
dataset.addColumn("sex", patients.sex);
dataset.addColumn("has_asthma", events.where(events.snomedctCode.isIn(asthmaDiagnosis)).existsForPatient());
dataset.addColumn(
  "asthma_reviews",
  events.where(events.snomedctCode.isIn(asthmaReview)).where(events.date.isOnOrBetween(yearBefore, indexDate)).countForPatient(),
);

export default dataset;
