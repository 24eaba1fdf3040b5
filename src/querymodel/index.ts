export * from "./types.js";
export * from "./nodes.js";
export { SEMANTICS, applyFunction, isIn, countEpisodes, compareValues, compareCodePoints, addMonths } from "./semantics.js";
export { checkPopulation, valueForPatientWithNoRows } from "./population.js";
export { datasetToJson, datasetFromJson, FORMAT, VERSION, type DatasetJson } from "./json.js";
export { tablesRequiredFor } from "./analysis.js";
export {
  type Measure,
  type Measures,
  type MeasureInput,
  type MeasuresJson,
  type Interval,
  makeMeasures,
  measuresToJson,
  measuresFromJson,
  isMeasuresJson,
  substituteParameters,
  nodeRewriter,
  parameterSubstituter,
  denominatorPopulation,
  measureGroupColumns,
  measuresColumns,
  checkGroupName,
  checkInterval,
  INTERVAL_START,
  INTERVAL_END,
  RESERVED_MEASURE_COLUMNS,
  MEASURES_FORMAT,
  MEASURES_VERSION,
} from "./measures.js";
