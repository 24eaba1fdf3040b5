// Opt-outs and permissions on a backend, on every SQL engine.

import { describe, expect, it } from "vitest";
import { Q, makeDataset, type Dataset } from "../../../src/querymodel/index.js";
import {
  DuckdbConnection,
  PermissionError,
  PostgresConnection,
  SqlEngine,
  SqliteConnection,
  loadTable,
  scopeFromEnvironment,
  type SqlConnection,
} from "../../../src/engines/sql/index.js";
import type { Row } from "../../../src/engines/types.js";

const URL = process.env.ENCLAVE_TEST_POSTGRES_URL;
const CONNECT: [string, () => Promise<SqlConnection>][] = [
  ["sqlite", async () => new SqliteConnection()],
  ["duckdb", () => DuckdbConnection.open()],
  ...(URL ? [["postgres", () => PostgresConnection.open(URL, { scratch: true })] as [string, () => Promise<SqlConnection>]] : []),
];

const e = Q.selectTable("e", { i1: "int" });
const secret = Q.selectTable("secret", { i1: "int" }, "secret_data");
const everyone = makeDataset(Q.aggregate("Exists", e), [{ name: "n", series: Q.aggregate("Count", e) }]);

// Patients 1–6 have events; 2 and 3 have a type 1 opt-out; 4 and 5 a national data opt-out (absent from the without-NDOO list).
async function backend(conn: SqlConnection, optOutTables = { t1oo: true, ndoo: true }): Promise<void> {
  await loadTable(conn, { name: "e", schema: e.schema, patientLevel: false }, [1, 2, 3, 4, 5, 6].map((p) => [p, p * 10] as Row));
  await loadTable(conn, { name: "secret", schema: secret.schema, patientLevel: false }, [[1, 1]]);
  if (optOutTables.t1oo) await loadTable(conn, { name: "patients_with_type_one_dissent", schema: {}, patientLevel: true }, [[2], [3]]);
  if (optOutTables.ndoo) await loadTable(conn, { name: "patients_without_ndoo", schema: {}, patientLevel: true }, [[1], [2], [3], [6]]);
}

async function run(connect: () => Promise<SqlConnection>, dataset: Dataset, permissions: string[], tables?: { t1oo: boolean; ndoo: boolean }): Promise<number[]> {
  const conn = await connect();
  await backend(conn, tables);
  // The engine closes the connection it is given; hand it this one.
  const engine = new SqlEngine("test", async () => conn, { backend: { permissions } });
  const ids: number[] = [];
  for await (const batch of engine.execute(dataset)) ids.push(...batch.map((r) => r[0] as number));
  return ids;
}

for (const [name, connect] of CONNECT) {
  describe(`backend scope on ${name}`, () => {
    it("removes both kinds of opt-out by default", async () => {
      expect(await run(connect, everyone, [])).toEqual([1, 6]);
    });
    it("keeps type 1 opt-outs only with include_t1oo", async () => {
      expect(await run(connect, everyone, ["include_t1oo"])).toEqual([1, 2, 3, 6]);
    });
    it("keeps national data opt-outs only with include_ndoo", async () => {
      expect(await run(connect, everyone, ["include_ndoo"])).toEqual([1, 4, 5, 6]);
    });
    it("keeps everyone with both permissions", async () => {
      expect(await run(connect, everyone, ["include_t1oo", "include_ndoo"])).toEqual([1, 2, 3, 4, 5, 6]);
    });
    it("refuses to run on a backend without the opt-out tables", async () => {
      await expect(run(connect, everyone, [], { t1oo: false, ndoo: true })).rejects.toThrow(/no patients_with_type_one_dissent table/);
      await expect(run(connect, everyone, ["include_t1oo"], { t1oo: false, ndoo: false })).rejects.toThrow(/no patients_without_ndoo table/);
    });
    it("refuses a table the project has no permission for, naming both", async () => {
      const ds = makeDataset(Q.aggregate("Exists", secret), []);
      await expect(run(connect, ds, [])).rejects.toThrow(PermissionError);
      await expect(run(connect, ds, [])).rejects.toThrow(/table secret requires the permission "secret_data"/);
      expect(await run(connect, ds, ["secret_data"])).toEqual([1]);
    });
  });
}

describe("ENCLAVE_PERMISSIONS", () => {
  it("is a JSON list, absent meaning none", () => {
    expect(scopeFromEnvironment({})).toEqual({ permissions: [] });
    expect(scopeFromEnvironment({ ENCLAVE_PERMISSIONS: '["include_t1oo"]' })).toEqual({ permissions: ["include_t1oo"] });
    expect(() => scopeFromEnvironment({ ENCLAVE_PERMISSIONS: "include_t1oo" })).toThrow(/JSON list/);
    expect(() => scopeFromEnvironment({ ENCLAVE_PERMISSIONS: '{"a": 1}' })).toThrow(/JSON list/);
  });
});
