// A small asthma study: adults and children registered with a practice and
// alive on the index date, with their age, sex, smoking status, asthma reviews
// in the year before, latest BMI and first inhaled corticosteroid.
//
//   npx --no-install enclave generate-dataset examples/demo/dataset_definition.ts \
//     --dummy-tables examples/demo/dummy_tables --output output/demo_dataset.csv

import { codelistFromCsv, createDataset, value, years } from "enclave";
import { clinicalEvents, medications, onsDeaths, patients, practiceRegistrations } from "enclave/tables/core";

const indexDate = "2024-03-31";
const yearBefore = value(indexDate).sub(years(1));

// Codelist paths are relative to this file.
const asthmaReview = codelistFromCsv("codelists/asthma_review.csv", { column: "code" });
const smokingStatus = codelistFromCsv("codelists/smoking_status.csv", { column: "code", categoryColumn: "category" });
const bmi = codelistFromCsv("codelists/bmi.csv", { column: "code" });
const inhaledCorticosteroids = codelistFromCsv("codelists/inhaled_corticosteroids.csv", { column: "dmd_code" });

const dataset = createDataset();
dataset.configureDummyData({ populationSize: 100 });
dataset.definePopulation(practiceRegistrations.existsForPatientOn(indexDate).and(patients.isAliveOn(indexDate)));

dataset.addColumn("age", patients.ageOn(indexDate));
dataset.addColumn("sex", patients.sex);
dataset.addColumn("practice", practiceRegistrations.forPatientOn(indexDate).practicePseudoId);

// Events recorded on or before the index date (an event with no date is never among them).
const events = clinicalEvents.where(clinicalEvents.date.isOnOrBefore(indexDate));

const latestSmoking = events.where(events.snomedctCode.isIn(smokingStatus)).sortBy(events.date).lastForPatient();
dataset.addColumn("smoking_status", latestSmoking.snomedctCode.toCategory(smokingStatus).whenNullThen("missing"));

dataset.addColumn(
  "asthma_reviews",
  events.where(events.snomedctCode.isIn(asthmaReview)).where(events.date.isOnOrBetween(yearBefore, indexDate)).countForPatient(),
);

const bmiRecords = events.where(events.snomedctCode.isIn(bmi)).where(events.numericValue.isNotNull());
const latestBmi = bmiRecords.sortBy(bmiRecords.date, bmiRecords.numericValue).lastForPatient();
dataset.addColumn("latest_bmi", latestBmi.numericValue);
dataset.addColumn("latest_bmi_date", latestBmi.date);

const steroids = medications.where(medications.dmdCode.isIn(inhaledCorticosteroids)).where(medications.date.isOnOrBefore(indexDate));
dataset.addColumn("first_ics_date", steroids.sortBy(steroids.date).firstForPatient().date);

dataset.addColumn("ons_death_date", onsDeaths.date);

export default dataset;
