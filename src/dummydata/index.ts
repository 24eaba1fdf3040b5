// Dummy data: patient-level tables generated so that every patient is in the
// definition's population, for running a definition without data.

export {
  DEFAULT_POPULATION_SIZE,
  DEFAULT_SEED,
  type DummyDataOptions,
  type DummyTable,
  type GeneratedTables,
  DummyDataError,
  DummyTableReader,
  generateDummyDataset,
  generateDummyTables,
  generateTablesFor,
  measuresPopulation,
  tablesRead,
  withDefaults,
} from "./generate.js";
export { describeSeries } from "./describe.js";
