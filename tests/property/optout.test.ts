// Opt-outs hold whatever the definition: on random tables, random opt-out
// lists and random datasets, no engine running on a backend ever returns a
// patient with a type 1 opt-out, or one missing from patients_without_ndoo,
// unless the project's scope grants it; with both granted, the result is the
// memory engine's.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DuckdbConnection, PostgresConnection, SqlEngine, SqliteConnection, loadTable, type SqlConnection } from "../../src/engines/sql/index.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import type { Row } from "../../src/engines/types.js";
import type { Dataset } from "../../src/querymodel/index.js";
import { N_PATIENTS, caseArb, type Tables } from "./generators.js";
import { difference, propertyParams } from "./compare.js";

const URL = process.env.ENCLAVE_TEST_POSTGRES_URL;
const CONNECT: [string, () => Promise<SqlConnection>][] = [
  ["sqlite", async () => new SqliteConnection()],
  ["duckdb", () => DuckdbConnection.open()],
  ...(URL ? [["postgres", () => PostgresConnection.open(URL, { scratch: true })] as [string, () => Promise<SqlConnection>]] : []),
];

const patientIds = fc.subarray(Array.from({ length: N_PATIENTS }, (_, i) => i + 1));

async function collect(batches: AsyncIterable<Row[]>): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const b of batches) rows.push(...b);
  return rows;
}

async function runOnBackend(connect: () => Promise<SqlConnection>, dataset: Dataset, tables: Tables, t1oo: number[], withoutNdoo: number[], permissions: string[]): Promise<Row[]> {
  const withOptOuts = async () => {
    const conn = await connect();
    await loadTable(conn, { name: "patients_with_type_one_dissent", schema: {}, patientLevel: true }, t1oo.map((p) => [p]));
    await loadTable(conn, { name: "patients_without_ndoo", schema: {}, patientLevel: true }, withoutNdoo.map((p) => [p]));
    return conn;
  };
  return collect(new SqlEngine("backend", withOptOuts, { tables: new RowsTableReader(tables), backend: { permissions } }).execute(dataset));
}

describe("no opted-out patient in any result without the permission", () => {
  for (const [name, connect] of CONNECT) {
    const params = propertyParams(name);
    const numRuns = Math.max(10, Math.floor((params.numRuns ?? 100) / 3));
    it(`${name} (${numRuns} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, patientIds, patientIds, fc.subarray(["include_t1oo", "include_ndoo"]), async ({ dataset, tables }, t1oo, withoutNdoo, permissions) => {
          const rows = await runOnBackend(connect, dataset, tables, t1oo, withoutNdoo, permissions);
          const ids = rows.map((r) => r[0] as number);
          if (!permissions.includes("include_t1oo")) expect(ids.filter((id) => t1oo.includes(id))).toEqual([]);
          if (!permissions.includes("include_ndoo")) expect(ids.filter((id) => !withoutNdoo.includes(id))).toEqual([]);
          // What remains is exactly the reference's answer, restricted to the patients allowed.
          const allowed = (id: number) => (permissions.includes("include_t1oo") || !t1oo.includes(id)) && (permissions.includes("include_ndoo") || withoutNdoo.includes(id));
          const reference = (await collect(new MemoryEngine(new RowsTableReader(tables)).execute(dataset))).filter((r) => allowed(r[0] as number));
          expect(difference(dataset, reference, rows)).toBeUndefined();
        }),
        { ...params, numRuns },
      );
    }, 600_000);
  }
});
