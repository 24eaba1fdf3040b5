// The query language: what a dataset definition imports from "enclave".

export { createDataset, Dataset, isDataset } from "./dataset.js";
export { patientTable, eventTable, tableFromRows, type EventFrame, type SortedEventFrame, type PatientFrame, type Columns, type TableSchema } from "./frames.js";
export {
  value,
  when,
  maximumOf,
  minimumOf,
  days,
  weeks,
  months,
  years,
  Duration,
  DateDifference,
  BoolSeries,
  IntSeries,
  FloatSeries,
  StrSeries,
  DateSeries,
  CodeSeries,
  MultiCodeSeries,
  type NumberSeries,
  type AnySeries,
  type PatientSeries,
  type Dim,
  type IsoDate,
} from "./series.js";
export { codelistFromCsv } from "./codelists.js";
export { getParameter } from "./parameters.js";
export { EnclaveError } from "./errors.js";
export { setLoadContext, loadContext, type LoadContext } from "./context.js";
export { createMeasures, Measures, isMeasures, INTERVAL, type MeasureOptions, type MeasureCount } from "./measures.js";
export type { IntervalLike } from "./series.js";
