import { createDataset } from "enclave";
import { patients } from "enclave/tables/core";

const dataset = createDataset();
dataset.configureDummyData({ populationSize: 10, seed: 3 });
dataset.definePopulation(patients.sex.isNotNull());
dataset.addColumn("sex", patients.sex);
export default dataset;
