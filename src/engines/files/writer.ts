// Writes a dataset's rows as they come from an engine. A file output is
// written beside its target under a temporary name and renamed at the end, so
// a failure (a bad row, an engine error, a full disk) never leaves a
// half-written file that looks like a result.

import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Row } from "../types.js";
import { formatCell } from "./cells.js";
import { csvLine } from "./csv.js";
import { writeArrow, writeParquet } from "./columnar.js";

const FORMATS = [
  { ending: ".csv.gz", kind: "csv", gzip: true },
  { ending: ".csv", kind: "csv", gzip: false },
  { ending: ".arrow", kind: "arrow", gzip: false },
  { ending: ".parquet", kind: "parquet", gzip: false },
] as const;

function formatOf(target: string): (typeof FORMATS)[number] {
  // Longest ending first, so that "x.csv.gz" is not taken for something else.
  const format = FORMATS.find((f) => target.endsWith(f.ending));
  if (!format) {
    throw new Error(`cannot write ${target}: the file's ending picks the format, and the supported endings are ${FORMATS.map((f) => f.ending).join(", ")}`);
  }
  return format;
}

/** Writes the dataset to `target` in the format its ending names (`.csv`, `.csv.gz`, `.arrow`, `.parquet`), or as CSV to stdout when `target` is null. */
export async function writeDataset(
  target: string | null,
  columns: readonly { name: string; type: string }[],
  batches: AsyncIterable<Row[]>,
): Promise<{ rows: number }> {
  let rows = 0;
  // One chunk per batch: the pipeline pulls the next batch only once the last
  // one is written, so nothing accumulates in memory.
  async function* lines(): AsyncGenerator<string> {
    // The header waits for the engine's first answer, so a query that fails
    // before producing anything leaves nothing on stdout.
    const it = batches[Symbol.asyncIterator]();
    const first = await it.next();
    yield csvLine(columns.map((c) => c.name));
    if (first.done) return;
    yield formatBatch(first.value);
    for await (const batch of { [Symbol.asyncIterator]: () => it }) yield formatBatch(batch);
  }
  function formatBatch(batch: readonly Row[]): string {
    let chunk = "";
    for (const row of batch) {
      if (row.length !== columns.length) throw new Error(`writeDataset: a row has ${row.length} values for ${columns.length} columns`);
      chunk += csvLine(row.map((v, i) => formatCell(v, columns[i]!.type)));
    }
    rows += batch.length;
    return chunk;
  }

  if (target === null) {
    await pipeline(lines(), process.stdout, { end: false });
    return { rows };
  }

  const format = formatOf(target);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const temporary = join(dir, `.${basename(target)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  try {
    if (format.kind === "arrow") rows = await writeArrow(temporary, columns, batches);
    else if (format.kind === "parquet") rows = await writeParquet(temporary, columns, batches);
    else if (format.gzip) await pipeline(lines(), createGzip(), createWriteStream(temporary));
    else await pipeline(lines(), createWriteStream(temporary));
    await rename(temporary, target);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
  return { rows };
}
