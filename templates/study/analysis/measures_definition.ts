// Each month of 2023: the share of registered patients with asthma who had an
// asthma review that month, by sex. Small counts are suppressed and the rest
// rounded (disclosure control is on by default).

import { INTERVAL, codelistFromCsv, createMeasures, months } from "enclave";
import { clinicalEvents, patients, practiceRegistrations } from "enclave/tables/core";

const asthmaDiagnosis = codelistFromCsv("../codelists/user-enclave-example-asthma-diagnosis.csv", { column: "code" });
const asthmaReview = codelistFromCsv("../codelists/user-enclave-example-asthma-review.csv", { column: "code" });

const hasAsthma = clinicalEvents
  .where(clinicalEvents.snomedctCode.isIn(asthmaDiagnosis))
  .where(clinicalEvents.date.isBefore(INTERVAL.startDate))
  .existsForPatient();
const reviewed = clinicalEvents
  .where(clinicalEvents.snomedctCode.isIn(asthmaReview))
  .where(clinicalEvents.date.isDuring(INTERVAL))
  .existsForPatient();

const measures = createMeasures();
measures.configureDummyData({ populationSize: 500 });
measures.defineMeasure("asthma_review_rate", {
  numerator: reviewed,
  denominator: practiceRegistrations.existsForPatientOn(INTERVAL.startDate).and(hasAsthma),
  groupBy: { sex: patients.sex },
  intervals: months(12).startingOn("2023-01-01"),
});

export default measures;
