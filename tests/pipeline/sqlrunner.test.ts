// The SQL runner over a backend: whatever the SQL, the session it runs in sees
// only the patients the project's scope allows. Each engine is given the same
// backend: patients 1–6, each with events; 2 and 3 have a type 1 opt-out; 4
// and 5 a national data opt-out (absent from the without-NDOO list).

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  DuckdbConnection,
  PostgresConnection,
  type SqlConnection,
  dropRestrictedRoles,
  loadTable,
  prepareRestrictedRoles,
  restrictedDsn,
  restrictedRoleName,
} from "../../src/engines/sql/index.js";
import type { Row, TableSpec } from "../../src/engines/types.js";
import { runSqlrunner, sqlrunnerDatabaseUrl } from "../../src/pipeline/sqlrunner.js";
import { parseRunCommand } from "../../src/pipeline/run-command.js";
import { executeAction } from "../../src/pipeline/runtimes.js";
import { registerPrepareSqlrunner } from "../../src/cli/admin-sqlrunner.js";
import { ensureBuilt } from "../cli/helpers.js";

const PG_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;

const folders: string[] = [];
afterAll(() => {
  for (const f of folders) fs.rmSync(f, { recursive: true, force: true });
});
function tmpFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "enclave-sqlrunner-"));
  folders.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------
// The backend

const PATIENTS: TableSpec = { name: "patients", schema: { date_of_birth: "date", sex: "str", date_of_death: "date" }, patientLevel: true };
const EVENTS: TableSpec = { name: "clinical_events", schema: { date: "date", snomedct_code: "str", numeric_value: "float" }, patientLevel: false };
const APPOINTMENTS: TableSpec = { name: "appointments", schema: { start_date: "date" }, patientLevel: false };
const T1OO: TableSpec = { name: "patients_with_type_one_dissent", schema: {}, patientLevel: true };
const NDOO: TableSpec = { name: "patients_without_ndoo", schema: {}, patientLevel: true };
const IDS = [1, 2, 3, 4, 5, 6];

async function fillBackend(conn: SqlConnection): Promise<void> {
  await loadTable(conn, PATIENTS, IDS.map((p) => [p, `19${50 + p}-01-01`, p % 2 ? "female" : "male", null] as Row));
  // Patient p has p events.
  await loadTable(conn, EVENTS, IDS.flatMap((p) => Array.from({ length: p }, (_, i) => [p, `2020-0${i + 1}-01`, "123456", i] as Row)));
  await loadTable(conn, APPOINTMENTS, [[1, "2021-01-01"]]);
  await loadTable(conn, T1OO, [[2], [3]]);
  await loadTable(conn, NDOO, [[1], [2], [3], [6]]);
  // A reference table without patients is shown as it is.
  await conn.exec("CREATE TABLE practices (practice_id BIGINT, region TEXT)");
  await conn.exec("INSERT INTO practices VALUES (1, 'North'), (2, 'South')");
}

const SCOPES = {
  none: { permissions: [] as string[], patients: [1, 6] },
  t1oo: { permissions: ["include_t1oo"], patients: [1, 2, 3, 6] },
  ndoo: { permissions: ["include_ndoo"], patients: [1, 4, 5, 6] },
  both: { permissions: ["include_t1oo", "include_ndoo"], patients: [1, 2, 3, 4, 5, 6] },
};
const OPTED_OUT = [2, 3, 4, 5];

interface Ran {
  code: number;
  stderr: string;
  csv: string | undefined;
}

/** Runs sqlrunner in-process on `sql` with the environment of a database action. */
async function sqlrunner(sql: string, env: Record<string, string>): Promise<Ran> {
  const dir = tmpFolder();
  fs.writeFileSync(path.join(dir, "query.sql"), sql);
  const output = path.join(dir, "out", "result.csv");
  let stderr = "";
  const code = await runSqlrunner([path.join(dir, "query.sql"), "--output", output], env, (t) => {
    stderr += t;
  });
  return { code, stderr, csv: fs.existsSync(output) ? fs.readFileSync(output, "utf8") : undefined };
}

function scopeEnv(permissions: readonly string[]): Record<string, string> {
  return { ENCLAVE_PERMISSIONS: JSON.stringify(permissions) };
}

/** The first column of a CSV as numbers (its header dropped). */
function ids(csv: string | undefined): number[] {
  return (csv ?? "").trim().split("\n").slice(1).map((l) => Number(l.split(",")[0]));
}

const QUERIES = {
  patients: "SELECT patient_id FROM patients ORDER BY patient_id;\n",
  joined: "SELECT p.patient_id, count(*) AS events\nFROM patients AS p JOIN clinical_events AS e ON e.patient_id = p.patient_id\nGROUP BY p.patient_id ORDER BY p.patient_id",
  count: "SELECT count(*) AS n, sum(1) AS also FROM clinical_events",
};

/** The same queries, for each scope, show exactly the scope's patients. */
function scopeTests(env: (permissions: readonly string[]) => Record<string, string>): void {
  for (const [name, scope] of Object.entries(SCOPES)) {
    it(`with scope ${JSON.stringify(scope.permissions)} shows patients ${scope.patients.join(", ")} only (${name})`, async () => {
      const e = env(scope.permissions);
      const listed = await sqlrunner(QUERIES.patients, e);
      expect(listed.code, listed.stderr).toBe(0);
      expect(ids(listed.csv)).toEqual(scope.patients);

      const joined = await sqlrunner(QUERIES.joined, e);
      expect(joined.code, joined.stderr).toBe(0);
      expect(joined.csv).toBe(`patient_id,events\n${scope.patients.map((p) => `${p},${p}\n`).join("")}`);

      const counted = await sqlrunner(QUERIES.count, e);
      expect(counted.code, counted.stderr).toBe(0);
      const n = scope.patients.reduce((a, p) => a + p, 0);
      expect(counted.csv).toBe(`n,also\n${n},${n}\n`);
    });
  }
}

/** A query that must fail, leaving no output with an opted-out patient in it. */
async function refused(sql: string, env: Record<string, string>, message: RegExp): Promise<void> {
  const r = await sqlrunner(sql, env);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(message);
  if (r.csv !== undefined) for (const p of OPTED_OUT) expect(ids(r.csv)).not.toContain(p);
}

// ---------------------------------------------------------------------------
// DuckDB

describe("sqlrunner on a DuckDB backend", () => {
  let file: string;
  let env: (permissions: readonly string[]) => Record<string, string>;
  beforeAll(async () => {
    file = path.join(tmpFolder(), "backend.duckdb");
    const conn = await DuckdbConnection.open(file);
    try {
      await fillBackend(conn);
      await conn.exec("CREATE SCHEMA extra");
      await conn.exec("CREATE TABLE extra.notes AS SELECT patient_id, 'note' AS note FROM patients");
      await conn.exec("CREATE VIEW everyone AS SELECT count(*) AS n FROM patients");
    } finally {
      await conn.close();
    }
    env = (permissions) => ({ DATABASE_URL: `duckdb://${file}`, ...scopeEnv(permissions) });
  });

  scopeTests((p) => env(p));

  it("filters tables in other schemas, shows tables without patients, and leaves out views, the opt-out lists and restricted tables", async () => {
    const notes = await sqlrunner("SELECT patient_id FROM extra.notes ORDER BY 1", env([]));
    expect(ids(notes.csv)).toEqual([1, 6]);
    const practices = await sqlrunner("SELECT practice_id, region FROM practices ORDER BY 1", env([]));
    expect(practices.csv).toBe("practice_id,region\n1,North\n2,South\n");
    await refused("SELECT n FROM everyone", env([]), /everyone does not exist/);
    await refused("SELECT patient_id FROM patients_with_type_one_dissent", env(["include_t1oo", "include_ndoo"]), /patients_with_type_one_dissent does not exist/);
    await refused("SELECT patient_id FROM patients_without_ndoo", env([]), /patients_without_ndoo does not exist/);
    await refused("SELECT patient_id FROM appointments", env(["include_t1oo", "include_ndoo"]), /appointments does not exist/);
    const granted = await sqlrunner("SELECT patient_id FROM appointments", env(["appointments"]));
    expect(granted.csv).toBe("patient_id\n1\n");
  });

  it("copies only the tables the query names, when DuckDB can tell", async () => {
    const one = await sqlrunner("SELECT (SELECT count(*) FROM duckdb_tables()) AS tables, count(*) AS n FROM patients", env([]));
    expect(one.csv).toBe("tables,n\n1,2\n");
    // A statement other than a SELECT: DuckDB's parser gives no tree, so every table the scope may see is copied (and filtered).
    const all = await sqlrunner("SELECT (SELECT count(*) FROM duckdb_tables() WHERE NOT temporary) AS tables, count(*) AS n FROM patients; CREATE TEMP TABLE t AS SELECT 1", env([]));
    expect(all.csv).toBe("tables,n\n4,2\n");
  });

  it("keeps the backend file out of the query's reach", async () => {
    const csv = path.join(tmpFolder(), "all.csv");
    fs.writeFileSync(csv, "patient_id\n2\n3\n4\n5\n");
    const e = env([]);
    const denied = /file system operations are disabled|configuration has been locked/;
    await refused(`SELECT 1 AS x;\nATTACH '${file}' AS again (READ_ONLY);\nCREATE TABLE stolen AS SELECT * FROM again.patients`, e, denied);
    await refused(`SELECT patient_id FROM read_csv('${csv}')`, e, denied);
    await refused(`SELECT * FROM '${file}'`, e, denied);
    await refused(`SELECT 1 AS x; SET enable_external_access = true`, e, denied);
    await refused(`SELECT 1 AS x; SET lock_configuration = false`, e, denied);
    await refused(`SELECT 1 AS x; RESET enable_external_access`, e, denied);
    await refused(`SELECT patient_id FROM enclave_backend.main.patients`, e, /enclave_backend/);
    await refused(`SELECT 1 AS x; COPY (SELECT 1) TO '${path.join(tmpFolder(), "x.csv")}'`, e, denied);
  });

  it("refuses a backend without the opt-out list the scope needs", async () => {
    const bare = path.join(tmpFolder(), "bare.duckdb");
    const conn = await DuckdbConnection.open(bare);
    await loadTable(conn, PATIENTS, [[1, "1980-01-01", "male", null]]);
    await loadTable(conn, NDOO, [[1]]);
    await conn.close();
    await refused(QUERIES.patients, { DATABASE_URL: `duckdb://${bare}`, ...scopeEnv([]) }, /no patients_with_type_one_dissent table, so opt-outs cannot be applied/);
    const r = await sqlrunner(QUERIES.patients, { DATABASE_URL: `duckdb://${bare}`, ...scopeEnv(["include_t1oo"]) });
    expect(r.csv).toBe("patient_id\n1\n");
  });

  it("refuses a malformed ENCLAVE_PERMISSIONS and a DATABASE_URL of an unknown kind", async () => {
    await refused(QUERIES.patients, { DATABASE_URL: `duckdb://${file}`, ENCLAVE_PERMISSIONS: "include_t1oo" }, /ENCLAVE_PERMISSIONS must be a JSON list/);
    const r = await sqlrunner(QUERIES.patients, { DATABASE_URL: "mysql://u:pw@h/db" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: DATABASE_URL: the DSN must start with sqlite:\/\//);
    expect(r.stderr).not.toContain("pw@h");
  });

  it("runs as a sqlrunner:v1 action, in its sandbox, with the same restriction", { timeout: 60_000 }, async () => {
    ensureBuilt();
    const dir = tmpFolder();
    fs.mkdirSync(path.join(dir, "analysis"));
    fs.writeFileSync(path.join(dir, "analysis", "query.sql"), QUERIES.joined);
    let log = "";
    const result = await executeAction({
      action: { name: "query", run: parseRunCommand("sqlrunner:v1 analysis/query.sql --output output/events.csv"), needs: [], outputs: {}, line: 1 },
      workdir: dir,
      env: env(["include_t1oo"]),
      limits: { memoryMb: 4096, cpuSeconds: 60, wallSeconds: 60 },
      onOutput: (chunk) => {
        log += chunk;
      },
      sandbox: "auto",
    });
    expect(result.exitCode, log).toBe(0);
    expect(fs.readFileSync(path.join(dir, "output", "events.csv"), "utf8")).toBe("patient_id,events\n1,1\n2,2\n3,3\n6,6\n");
  });
});

// ---------------------------------------------------------------------------
// SQLite

describe("sqlrunner on a SQLite backend", () => {
  function sqlite(optOutLists: boolean, restricted = false): string {
    const file = path.join(tmpFolder(), "backend.db");
    const db = new Database(file);
    db.exec("CREATE TABLE patients (patient_id INTEGER, sex TEXT); INSERT INTO patients VALUES (1, 'male'), (2, 'female')");
    if (optOutLists) db.exec("CREATE TABLE patients_with_type_one_dissent (patient_id INTEGER); CREATE TABLE patients_without_ndoo (patient_id INTEGER); INSERT INTO patients_without_ndoo VALUES (1)");
    if (restricted) db.exec("CREATE TABLE appointments (patient_id INTEGER, start_date TEXT)");
    db.close();
    return `sqlite://${file}`;
  }

  it("refuses when the scope hides any patient: a SQLite session cannot be restricted", async () => {
    for (const permissions of [[], ["include_t1oo"], ["include_ndoo"]]) {
      await refused(QUERIES.patients, { DATABASE_URL: sqlite(true), ...scopeEnv(permissions) }, /a SQLite database cannot be restricted .* refusing to run: use a DuckDB or PostgreSQL backend/);
    }
    await refused(QUERIES.patients, { DATABASE_URL: sqlite(false), ...scopeEnv([]) }, /patients with a type 1 opt-out \(the project has no include_t1oo\), patients with a national data opt-out/);
  });

  it("refuses when a restricted table is there without its permission", async () => {
    await refused(QUERIES.patients, { DATABASE_URL: sqlite(true, true), ...scopeEnv(["include_t1oo", "include_ndoo"]) }, /must not see table appointments \(the project has no appointments\)/);
  });

  it("runs when the scope hides nothing", async () => {
    const r = await sqlrunner(QUERIES.patients, { DATABASE_URL: sqlite(true, true), ...scopeEnv(["include_t1oo", "include_ndoo", "appointments"]) });
    expect([r.code, r.csv]).toEqual([0, "patient_id\n1\n2\n"]);
  });
});

// ---------------------------------------------------------------------------
// PostgreSQL

describe.runIf(PG_URL)("sqlrunner on a PostgreSQL backend", () => {
  const url = PG_URL!;
  // Not starting "enclave": the test DSN's password is "enclave", which errors scrub out.
  const prefix = `sqlrunner_test_${randomBytes(4).toString("hex")}`;
  const base = `${prefix}_base`;
  const password = randomBytes(12).toString("base64url");
  const withPassword = (dsn: string, pw: string) => {
    const u = new URL(dsn);
    u.password = pw;
    return u.href;
  };
  const dsnFor = (permissions: readonly string[]) => restrictedDsn(withPassword(url, password), { permissions }, prefix);
  const env = (permissions: readonly string[]) => ({ DATABASE_URL: dsnFor(permissions), ...scopeEnv(permissions) });

  beforeAll(async () => {
    const admin = await PostgresConnection.open(url);
    try {
      let may = false;
      for await (const b of admin.query("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user")) may = b[0]?.[0] === true;
      if (!may) throw new Error("the role of ENCLAVE_TEST_POSTGRES_URL needs CREATEROLE for these tests: ALTER ROLE enclave CREATEROLE (as postgres)");
      // Usable by everyone, as the public schema is: only the tables' own grants keep them out.
      await admin.exec(`CREATE SCHEMA "${base}"`);
      await admin.exec(`GRANT USAGE ON SCHEMA "${base}" TO PUBLIC`);
    } finally {
      await admin.close();
    }
    const conn = await PostgresConnection.open(url, { schema: base });
    try {
      await fillBackend(conn);
    } finally {
      await conn.close();
    }
    const roles = await prepareRestrictedRoles(url, { password, prefix, schema: base, restrictedTables: { appointments: "appointments" } });
    expect(roles.map((r) => r.role)).toEqual([prefix, `${prefix}_t1oo`, `${prefix}_ndoo`, `${prefix}_t1oo_ndoo`]);
    expect(roles[0]!.tables).toEqual(["clinical_events", "patients", "practices"]);
  }, 60_000);

  afterAll(async () => {
    await dropRestrictedRoles(url, { prefix });
    const admin = await PostgresConnection.open(url);
    await admin.exec(`DROP SCHEMA IF EXISTS "${base}" CASCADE`);
    await admin.close();
  });

  scopeTests(env);

  it("shows tables without patients as they are, and neither the opt-out lists nor restricted tables", async () => {
    const practices = await sqlrunner("SELECT practice_id, region FROM practices ORDER BY 1", env([]));
    expect(practices.csv).toBe("practice_id,region\n1,North\n2,South\n");
    await refused("SELECT patient_id FROM patients_with_type_one_dissent", env([]), /relation "patients_with_type_one_dissent" does not exist/);
    await refused("SELECT patient_id FROM appointments", env(["include_t1oo", "include_ndoo"]), /relation "appointments" does not exist/);
  });

  it("refuses a session that is not the restricted role for the scope, naming the role to use", async () => {
    const own = await sqlrunner(QUERIES.patients, { DATABASE_URL: url, ...scopeEnv([]) });
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(new RegExp(`the database session for sqlrunner is not restricted: connect as (\\S+ or )*${prefix}\\b`));
    expect(own.stderr).toMatch(/it has no schema of views of its own|can read/);
    expect(own.csv).toBeUndefined();

    const other = await sqlrunner(QUERIES.patients, { DATABASE_URL: dsnFor(["include_t1oo"]), ...scopeEnv([]) });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(new RegExp(`connect as (\\S+ or )*${prefix}\\b.*its schema was prepared for a different scope`));
  });

  it("refuses a restricted role that has been given rights beyond its views", async () => {
    const admin = await PostgresConnection.open(url);
    try {
      await admin.exec(`GRANT SELECT ON "${base}".patients TO "${prefix}"`);
      await refused(QUERIES.patients, env([]), new RegExp(`it can read ${base}.patients directly`));
      await admin.exec(`REVOKE SELECT ON "${base}".patients FROM "${prefix}"`);
      await admin.exec(`GRANT "${prefix}_t1oo_ndoo" TO "${prefix}"`);
      await refused(QUERIES.patients, env([]), /it is a member of other roles/);
    } finally {
      await admin.exec(`REVOKE SELECT ON "${base}".patients FROM "${prefix}"`);
      await admin.exec(`REVOKE "${prefix}_t1oo_ndoo" FROM "${prefix}"`);
      await admin.close();
    }
    expect(ids((await sqlrunner(QUERIES.patients, env([]))).csv)).toEqual([1, 6]);
  });

  it("cannot reach the base tables, another scope's views, or another role", async () => {
    const e = env([]);
    await refused(`SELECT patient_id FROM "${base}".patients`, e, /permission denied for table patients/);
    await refused(`SELECT patient_id FROM "${prefix}_t1oo_ndoo".patients`, e, /permission denied for schema/);
    await refused(`SELECT set_config('role', '${prefix}_t1oo_ndoo', false) AS r, patient_id FROM patients`, e, /permission denied to set role/);
    // A second statement is refused by the protocol before the role's own rights are even asked.
    await refused(`SELECT 1 AS x; SET ROLE enclave`, e, /cannot insert multiple commands/);
    await refused(`SELECT 1 AS x; ALTER ROLE CURRENT_USER PASSWORD 'mine'`, e, /cannot insert multiple commands/);
  });

  it("holds as a role even for statements the SQL runner would never send", async () => {
    // Defence in depth: a session of the restricted role, with any statements at all.
    const conn = await PostgresConnection.open(dsnFor([]));
    const fails = async (sql: string, message: RegExp) => expect(conn.exec(sql)).rejects.toThrow(message);
    try {
      await fails("SET ROLE enclave", /permission denied to set role/);
      await fails("SET SESSION AUTHORIZATION enclave", /permission denied to set session authorization/);
      await conn.exec("RESET ROLE");
      await fails(`CREATE TEMP TABLE stolen AS SELECT patient_id FROM "${base}".patients`, /permission denied for table patients/);
      await conn.exec(`SET search_path TO "${base}"`);
      await fails("CREATE TEMP TABLE stolen AS SELECT patient_id FROM patients", /permission denied for table patients/);
      await conn.exec(`SET search_path TO "${prefix}"`);
      // Without security_barrier, the planner would run this cheap function on
      // the base table's rows before the view's opt-out conditions.
      await conn.exec(`CREATE FUNCTION pg_temp.peek(p bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN
  IF p IN (${OPTED_OUT.join(", ")}) THEN RAISE EXCEPTION 'saw opted-out patient %', p; END IF;
  RETURN true;
END $$`);
      await conn.exec("CREATE TEMP TABLE seen AS SELECT patient_id FROM patients WHERE pg_temp.peek(patient_id)");
      await conn.exec("CREATE TEMP TABLE seen_events AS SELECT count(*) FROM clinical_events AS e JOIN patients AS p USING (patient_id) WHERE pg_temp.peek(e.patient_id) AND pg_temp.peek(p.patient_id)");
    } finally {
      await conn.close();
    }
  });

  it("never shows the password of the DSN", async () => {
    const wrong = "not-the-Password-42";
    const r = await sqlrunner(QUERIES.patients, { DATABASE_URL: restrictedDsn(withPassword(url, wrong), { permissions: [] }, prefix), ...scopeEnv([]) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not connect/);
    expect(r.stderr).not.toContain(wrong);
  });

  it("enclave admin prepare-sqlrunner makes the roles, prints their DSNs, and drops them", async () => {
    const other = `${prefix}_cli`;
    const audit = path.join(tmpFolder(), "audit.db");
    const admin = () => {
      const program = new Command().exitOverride();
      registerPrepareSqlrunner(program.command("admin"));
      return program;
    };
    let printed = "";
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    try {
      await admin().parseAsync(["admin", "prepare-sqlrunner", "--database", url, "--schema", base, "--prefix", other, "--audit-db", audit, "--actor", "ops"], { from: "user" });
    } finally {
      write.mockRestore();
    }
    expect(printed).toMatch(/^prepared 4 sqlrunner roles over the tables of schema /);
    const dsns = [...printed.matchAll(/(postgresql:\/\/\S+)/g)].map((m) => m[1]!);
    expect(dsns).toHaveLength(4);
    expect(new URL(dsns[1]!).username).toBe(restrictedRoleName({ permissions: ["include_t1oo"] }, other));
    const r = await sqlrunner(QUERIES.patients, { DATABASE_URL: dsns[1]!, ...scopeEnv(["include_t1oo"]) });
    expect(ids(r.csv)).toEqual([1, 2, 3, 6]);

    write.mockImplementation(() => true);
    try {
      await admin().parseAsync(["admin", "prepare-sqlrunner", "--database", url, "--prefix", other, "--drop", "--audit-db", audit], { from: "user" });
    } finally {
      write.mockRestore();
    }
    const gone = await sqlrunner(QUERIES.patients, { DATABASE_URL: dsns[1]!, ...scopeEnv(["include_t1oo"]) });
    expect(gone.code).toBe(1);
    const log = new Database(audit, { readonly: true });
    const actions = log.prepare("SELECT action, actor FROM audit_log ORDER BY seq").all();
    log.close();
    expect(actions).toEqual([
      { action: "sqlrunner.prepare_roles", actor: "ops" },
      { action: "sqlrunner.drop_roles", actor: "system" },
    ]);
  });

  it("will not take over a schema or role it did not make", async () => {
    const taken = `${prefix}_taken`;
    const admin = await PostgresConnection.open(url);
    try {
      await admin.exec(`CREATE SCHEMA "${taken}_ndoo"`);
      await expect(prepareRestrictedRoles(url, { password, prefix: taken, schema: base })).rejects.toThrow(new RegExp(`schema ${taken}_ndoo already exists and was not made for restricted sessions`));
      await expect(prepareRestrictedRoles(url, { password, prefix: "Bad Prefix", schema: base })).rejects.toThrow(/not a plain lower-case name/);
    } finally {
      await admin.exec(`DROP SCHEMA IF EXISTS "${taken}_ndoo"`);
      await admin.close();
    }
  });
});

describe("the DATABASE_URL of a sqlrunner action", () => {
  it("is the backend's own for DuckDB and SQLite, and the scope's restricted role for PostgreSQL", () => {
    expect(sqlrunnerDatabaseUrl("duckdb:///data/backend.duckdb", { permissions: [] }, "postgresql://x:y@h/db")).toBe("duckdb:///data/backend.duckdb");
    const restricted = "postgresql://enclave_sqlrunner:s3cret@db.internal:5432/patients";
    expect(sqlrunnerDatabaseUrl("postgresql://admin:pw@db.internal/patients", { permissions: [] }, restricted)).toBe(restricted);
    expect(sqlrunnerDatabaseUrl("postgresql://admin:pw@db.internal/patients", { permissions: ["include_ndoo", "include_t1oo", "appointments"] }, restricted)).toBe(
      "postgresql://enclave_sqlrunner_t1oo_ndoo:s3cret@db.internal:5432/patients",
    );
    expect(restrictedRoleName({ permissions: ["include_ndoo"] })).toBe("enclave_sqlrunner_ndoo");
    // Without the restricted roles' DSN, the backend's is passed on, and sqlrunner refuses it.
    expect(sqlrunnerDatabaseUrl("postgresql://admin:pw@db.internal/patients", { permissions: [] })).toBe("postgresql://admin:pw@db.internal/patients");
  });
});
