// The databases a store test runs on: SQLite always, and PostgreSQL too when
// ENCLAVE_TEST_POSTGRES_URL is set, each store in a fresh schema so that tests
// never see each other's rows; the schemas are dropped once the file's tests
// are done.

import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import type pgTypes from "pg";
import { afterAll } from "vitest";

export const PG_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;

/** Where a fresh store is: a SQLite path, or the PostgreSQL URL and its schema. */
export interface StoreTarget {
  target: string;
  schema?: string;
}

/**
 * The engines, by name, each with a function that makes a fresh target;
 * `sqlite` names the SQLite file from the same arguments. Call it at the top of
 * a test file (or a helper it imports): it registers the afterAll that drops the schemas.
 */
export function storeEngines<A extends unknown[]>(sqlite: (...args: A) => string, schemaPrefix = "enclave_test"): [name: string, fresh: (...args: A) => StoreTarget][] {
  const schemas: string[] = [];
  // The property tests leave a schema for every run they made: dropping them takes a while.
  afterAll(async () => {
    if (!PG_URL || schemas.length === 0) return;
    const pg = createRequire(import.meta.url)("pg") as typeof pgTypes;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
  }, 120_000);
  const engines: [string, (...args: A) => StoreTarget][] = [["sqlite", (...args) => ({ target: sqlite(...args) })]];
  if (PG_URL) {
    const url = PG_URL;
    engines.push([
      "postgres",
      () => {
        const schema = `${schemaPrefix}_${randomBytes(6).toString("hex")}`;
        schemas.push(schema);
        return { target: url, schema };
      },
    ]);
  }
  return engines;
}
