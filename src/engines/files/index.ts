// Files in and out of engines: table files (CSV, optionally gzipped) read as
// typed rows, and dataset outputs written with the same cell conventions.

export { FileTableReader, RowsTableReader, TableFileError, parseTableCsv, readCsvText } from "./reader.js";
export { readColumnarCells } from "./columnar.js";
export { writeDataset } from "./writer.js";
export { formatCell, parseCell, CellParseError } from "./cells.js";
export { parseCsv, csvField, csvLine, CsvSyntaxError, type CsvRecord } from "./csv.js";
