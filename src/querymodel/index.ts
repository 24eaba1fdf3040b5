export * from "./types.js";
export * from "./nodes.js";
export { SEMANTICS, applyFunction, isIn, countEpisodes, compareValues, compareCodePoints, addMonths } from "./semantics.js";
export { checkPopulation, valueForPatientWithNoRows } from "./population.js";
export { datasetToJson, datasetFromJson, FORMAT, VERSION, type DatasetJson } from "./json.js";
export { tablesRequiredFor } from "./analysis.js";
