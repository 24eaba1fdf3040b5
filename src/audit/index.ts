// The audit log: an append-only, hash-chained record of every operation
// (logins, role and status changes, job requests, cancellations, agent actions).
//
// Each entry holds seq (1, 2, ...), timestamp (ISO 8601, UTC), actor, action,
// subject, details (a JSON object), prev_hash and hash, where
//
//   hash = sha256_hex(utf8(JCS({ seq, timestamp, actor, action, subject, details, prev_hash })))
//
// (JCS: see canonical.ts; seq is a JSON number, details the object itself, not
// its text) and prev_hash is the previous entry's hash, or 64 zeros for entry 1.
// Changing, removing, reordering or inserting an entry breaks the chain at that
// point. Removing entries from the end does not: the log that remains is a valid
// log. Against that, publish the head (`enclave audit head`) somewhere else and
// verify with it as the anchor. There is no secret in the hash, so someone who
// can write the database and rewrites every hash after a change makes a log that
// verifies on its own; an anchor published before the change catches that too.
//
// Storage: one table, `audit_log`, in an embedded SQLite file or in PostgreSQL
// (beside it `audit_keys`, which makes a keyed append happen at most once).
// The API has no way to change or delete an entry, and triggers refuse UPDATE
// and DELETE (and TRUNCATE in PostgreSQL); but an administrator can drop
// triggers, so verify() trusts nothing it reads.

import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import type pgTypes from "pg";
import { type JsonObject, canonicalJson, sha256Hex } from "./canonical.js";

/** The table, the same on both databases but for the type of seq. */
function createTable(seqType: string): string {
  return `CREATE TABLE IF NOT EXISTS audit_log (seq ${seqType} PRIMARY KEY, timestamp TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`;
}

export { canonicalJson, sha256Hex, type Json, type JsonObject } from "./canonical.js";

// Loaded on first use: every `enclave` command would otherwise pay for loading the drivers.
const require = createRequire(import.meta.url);
let sqliteLoaded: typeof BetterSqlite3 | undefined;
let pgLoaded: typeof pgTypes | undefined;
const sqliteApi = (): typeof BetterSqlite3 => (sqliteLoaded ??= require("better-sqlite3") as typeof BetterSqlite3);
const pgApi = (): typeof pgTypes => (pgLoaded ??= require("pg") as typeof pgTypes);

export const GENESIS_HASH = "0".repeat(64);

export interface AuditEntry {
  seq: number;
  timestamp: string;
  /** A user id, `agent:<backend>`, or `system`. */
  actor: string;
  /** What was done, dotted: `login`, `role.grant`, `job_request.create`, ... */
  action: string;
  /** What it was done to: `project:12`, `job:abc`, ... */
  subject: string;
  details: JsonObject;
  prev_hash: string;
  hash: string;
}

export interface AppendInput {
  actor: string;
  action: string;
  subject: string;
  details?: JsonObject;
  /** When the operation happened, if not now: an entry recorded beside a change and appended later keeps the change's time. */
  timestamp?: Date;
  /**
   * Makes the append idempotent: a second append with the same key adds
   * nothing and returns the entry the first one added. Kept in a side table
   * (audit_keys), outside what is hashed.
   */
  key?: string;
}

export interface AuditProblem {
  seq: number;
  problem: string;
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  /** The last entry's hash (64 zeros for an empty log). */
  head: string;
  problems: AuditProblem[];
}

/** A head published elsewhere: its hash, and its seq when known. */
export interface Anchor {
  seq?: number;
  hash: string;
}

export interface OpenOptions {
  /** The time of an append; the system clock unless a test says otherwise. */
  clock?: () => Date;
  /** SQLite: create the file if missing (default true). */
  create?: boolean;
  /** PostgreSQL: the schema that holds the table (default: the search_path). */
  schema?: string;
  /**
   * How many of the latest entries keep their key (default 100,000): an older
   * key is forgotten, so that the keys stay few. A key guards only the
   * moment between an append and its outbox's delete.
   */
  keyRetention?: number;
}

export class AuditError extends Error {
  override name = "AuditError";
}

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/**
 * Checks what an append would be given, and returns its details (`{}` when
 * none); an AuditError says what is wrong. Exported so that an entry recorded
 * now and appended later (the job server's outbox) is refused now.
 */
export function checkAppendInput(input: AppendInput): JsonObject {
  const { actor, action, subject, key, timestamp } = input;
  if (typeof actor !== "string" || actor.trim() === "") throw new AuditError("an audit entry needs an actor (a user id, agent:<backend> or system)");
  if (typeof action !== "string" || !ACTION.test(action)) throw new AuditError(`the action ${JSON.stringify(action)} is not a dotted lower-case name like job_request.create`);
  if (typeof subject !== "string") throw new AuditError("an audit entry needs a subject");
  const details = input.details ?? {};
  if (typeof details !== "object" || details === null || Array.isArray(details)) throw new AuditError("the details of an audit entry must be a JSON object");
  if (key !== undefined && (typeof key !== "string" || key === "" || key.length > 200)) throw new AuditError("an audit entry's key must be text of 1 to 200 characters");
  if (timestamp !== undefined && !(timestamp instanceof Date && !Number.isNaN(timestamp.getTime()))) throw new AuditError("an audit entry's timestamp must be a valid date");
  return details;
}


/** The hash of an entry, from every field but `hash`. */
export function entryHash(e: Omit<AuditEntry, "hash">): string {
  return sha256Hex(canonicalJson({ seq: e.seq, timestamp: e.timestamp, actor: e.actor, action: e.action, subject: e.subject, details: e.details, prev_hash: e.prev_hash }));
}

/** Parses an anchor as `enclave audit head` prints it (`<seq> <hash>`), or `<seq>:<hash>`, or a bare hash. */
export function parseAnchor(text: string): Anchor {
  const m = /^\s*(?:(\d+)[\s:]+)?([0-9a-f]{64})\s*$/i.exec(text);
  if (!m) throw new AuditError(`${JSON.stringify(text)} is not an anchor: give the hash that \`enclave audit head\` printed, with or without its seq`);
  return m[1] === undefined ? { hash: m[2]!.toLowerCase() } : { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

/** A row as stored: nothing in it is trusted. */
interface StoredRow {
  seq: unknown;
  timestamp: unknown;
  actor: unknown;
  action: unknown;
  subject: unknown;
  details: unknown;
  prev_hash: unknown;
  hash: unknown;
}

/**
 * Checks a whole log, rows in seq order. At most one problem per entry; an entry
 * that only fails to link to a previous entry that is itself reported is not
 * reported again, as its break is that entry's.
 */
export function verifyRows(rows: readonly StoredRow[], anchor?: Anchor): VerifyResult {
  const problems: AuditProblem[] = [];
  // Where each stored hash sits, to say where a moved entry came from.
  const seqOfHash = new Map<string, number>();
  for (const r of rows) if (typeof r.hash === "string" && typeof r.seq === "number") seqOfHash.set(r.hash, r.seq);

  let expected = 1;
  let prevHash = GENESIS_HASH;
  let prevBad = false;
  for (const r of rows) {
    const seq = typeof r.seq === "number" && Number.isSafeInteger(r.seq) ? r.seq : NaN;
    if (Number.isNaN(seq)) {
      problems.push({ seq: expected, problem: `seq ${JSON.stringify(r.seq)} is not a whole number: the entry was edited` });
      prevBad = true;
      prevHash = typeof r.hash === "string" ? r.hash : "";
      expected += 1;
      continue;
    }
    // A gap explains why this entry does not link to the one before it; its own contents are still checked.
    let gap = false;
    if (seq > expected) {
      problems.push({ seq: expected, problem: expected === seq - 1 ? `entry ${expected} is missing (the log goes from ${expected - 1} to ${seq})` : `entries ${expected} to ${seq - 1} are missing (the log goes from ${expected - 1} to ${seq})` });
      gap = true;
    } else if (seq < expected) {
      problems.push({ seq, problem: `entry ${seq} is out of order (after entry ${expected - 1})` });
      gap = true;
    }
    const problem = check(r, seq, prevBad || gap);
    if (problem) problems.push({ seq, problem });
    prevBad = problem !== undefined;
    prevHash = typeof r.hash === "string" ? r.hash : "";
    expected = Math.max(expected, seq + 1);
  }

  function check(r: StoredRow, seq: number, skipLink: boolean): string | undefined {
    for (const f of ["timestamp", "actor", "action", "subject", "details", "prev_hash", "hash"] as const) {
      if (typeof r[f] !== "string") return `${f} is not text: the entry was edited`;
    }
    let details: unknown;
    try {
      details = JSON.parse(r.details as string);
    } catch {
      return "details are not valid JSON: the entry was edited";
    }
    if (typeof details !== "object" || details === null || Array.isArray(details)) return "details are not a JSON object: the entry was edited";
    const entry = { seq, timestamp: r.timestamp, actor: r.actor, action: r.action, subject: r.subject, details, prev_hash: r.prev_hash } as Omit<AuditEntry, "hash">;
    if (entryHash(entry) !== r.hash) {
      // An entry moved from elsewhere hashes right under its old seq: just after
      // the entry its prev_hash names, when that one did not move, or nearby.
      const from = seqOfHash.get(r.prev_hash as string);
      const near = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? seq + 1 + i / 2 : seq - 1 - (i - 1) / 2)).filter((k) => k >= 1);
      for (const k of from !== undefined ? [from + 1, ...near] : near) {
        if (k !== seq && entryHash({ ...entry, seq: k }) === r.hash) return `entry ${seq} holds the contents of entry ${k}: entries were reordered, inserted or removed`;
      }
      return `entry ${seq} does not match its hash: it was edited`;
    }
    if (r.prev_hash !== prevHash && !skipLink) {
      return seq === 1 ? "entry 1 does not start the chain (its prev_hash is not 64 zeros)" : `entry ${seq} does not follow entry ${seq - 1} (its prev_hash is not that entry's hash): entry ${seq - 1} was replaced, or this one was inserted`;
    }
    return undefined;
  }

  const last = rows.length > 0 ? rows[rows.length - 1]! : undefined;
  const lastSeq = last && typeof last.seq === "number" ? last.seq : 0;
  if (anchor) {
    const at = seqOfHash.get(anchor.hash);
    if (at === undefined || (anchor.seq !== undefined && at !== anchor.seq)) {
      const where = anchor.seq ?? lastSeq + 1;
      problems.push({
        seq: where,
        problem:
          anchor.seq !== undefined && anchor.seq > lastSeq
            ? `the anchor (entry ${anchor.seq}, ${anchor.hash}) is past the end of the log (entry ${lastSeq}): entries were removed from its end`
            : `the anchor ${anchor.seq !== undefined ? `(entry ${anchor.seq}, ${anchor.hash})` : anchor.hash} is not in the log: entries were removed from its end or rewritten`,
      });
    }
  }
  problems.sort((a, b) => a.seq - b.seq);
  return { ok: problems.length === 0, entries: rows.length, head: typeof last?.hash === "string" ? last.hash : GENESIS_HASH, problems };
}

// ---------------------------------------------------------------------------
// Storage

const COLUMNS = "seq, timestamp, actor, action, subject, details, prev_hash, hash";

interface Store {
  /**
   * Runs `make` with the head read under a lock that no other appender can
   * hold at the same time, and inserts what it returns; with a key already
   * used, inserts nothing and returns that key's entry.
   */
  appendLocked(make: (head: { seq: number; hash: string }) => AuditEntry, key?: string): Promise<AuditEntry>;
  rows(since: number): Promise<StoredRow[]>;
  head(): Promise<{ seq: number; hash: string }>;
  close(): Promise<void>;
}

export class AuditLog {
  // Appends from one object wait for each other: a PostgreSQL client runs one transaction at a time.
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly clock: () => Date,
  ) {}

  /**
   * Opens (creating if need be) the log at `target`: `postgres://` or
   * `postgresql://` URLs are PostgreSQL; `sqlite://<path>` (so `sqlite:///abs/path.db`)
   * or a plain path is a SQLite file.
   */
  static async open(target: string, options: OpenOptions = {}): Promise<AuditLog> {
    const clock = options.clock ?? (() => new Date());
    const retention = options.keyRetention ?? DEFAULT_KEY_RETENTION;
    if (!Number.isSafeInteger(retention) || retention < 1) throw new AuditError(`keyRetention must be a whole number of entries, 1 or more, not ${retention}`);
    if (/^postgres(ql)?:\/\//i.test(target)) return new AuditLog(await PostgresStore.open(target, options.schema, retention), clock);
    const file = target.startsWith("sqlite://") ? target.slice("sqlite://".length) : target;
    if (file === "") throw new AuditError("the audit log needs a file: sqlite:///path/to/audit.db");
    return new AuditLog(SqliteStore.open(file, options.create ?? true, retention), clock);
  }

  /** Adds an entry at the end, atomically, and returns it. */
  append(input: AppendInput): Promise<AuditEntry> {
    const { actor, action, subject, key, timestamp } = input;
    // Stored exactly as hashed, so that what is read back is what was signed off.
    const normalised = JSON.parse(canonicalJson(checkAppendInput(input))) as JsonObject;
    const run = this.queue.then(() =>
      this.store.appendLocked((head) => {
        const partial = { seq: head.seq + 1, timestamp: (timestamp ?? this.clock()).toISOString(), actor, action, subject, details: normalised, prev_hash: head.hash };
        return { ...partial, hash: entryHash(partial) };
      }, key),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The entries from seq `since` on (all by default), in order; as stored, unchecked. */
  async entries(since = 1): Promise<AuditEntry[]> {
    return (await this.store.rows(since)).map(toEntry);
  }

  /** The last entry's seq and hash; seq 0 and 64 zeros for an empty log. */
  head(): Promise<{ seq: number; hash: string }> {
    return this.store.head();
  }

  /** Checks every entry, and that the anchor (a head published earlier), if given, is still in the log. */
  async verify(options: { anchor?: Anchor | string } = {}): Promise<VerifyResult> {
    const anchor = typeof options.anchor === "string" ? parseAnchor(options.anchor) : options.anchor;
    return verifyRows(await this.store.rows(1), anchor);
  }

  async close(): Promise<void> {
    await this.queue;
    await this.store.close();
  }
}

/** A postgres:// URL fit to print: its password replaced; one that does not parse is not repeated, as it may hold one. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "the PostgreSQL server given";
  }
}

function toEntry(r: StoredRow): AuditEntry {
  return {
    seq: Number(r.seq),
    timestamp: String(r.timestamp),
    actor: String(r.actor),
    action: String(r.action),
    subject: String(r.subject),
    details: parseDetails(r.details),
    prev_hash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

// The keys of keyed appends, beside the log: not part of any entry, so not
// hashed; losing the table loses only idempotence, never an entry.
const KEYS_TABLE = "CREATE TABLE IF NOT EXISTS audit_keys (key TEXT PRIMARY KEY, seq BIGINT NOT NULL)";
const KEYS_INDEX = "CREATE INDEX IF NOT EXISTS audit_keys_by_seq ON audit_keys (seq)";
const DEFAULT_KEY_RETENTION = 100_000;
const KEYED_COLUMNS = COLUMNS.split(", ").map((c) => `l.${c}`).join(", ");

function parseDetails(text: unknown): JsonObject {
  try {
    const v = JSON.parse(String(text)) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : { _unparsed: String(text) };
  } catch {
    return { _unparsed: String(text) };
  }
}

class SqliteStore implements Store {
  private constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly keyRetention: number,
  ) {}

  static open(file: string, create: boolean, keyRetention: number): SqliteStore {
    const Database = sqliteApi();
    let db: BetterSqlite3.Database;
    try {
      // The timeout is how long an appender waits for another one's write lock.
      db = new Database(file, { fileMustExist: !create && file !== ":memory:", timeout: 30_000 });
    } catch (e) {
      if (/directory does not exist/i.test((e as Error).message)) throw new AuditError(`cannot open the audit log ${file}: its folder does not exist (create it first)`);
      if ((e as { code?: string }).code === "SQLITE_CANTOPEN") throw new AuditError(create ? `cannot open the audit log ${file}: it cannot be created or opened there (check the folder's permissions)` : `there is no audit log at ${file}`);
      throw e;
    }
    // A reader (create false) given some other SQLite file must not turn it into an audit log.
    if (!create && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get() === undefined) {
      db.close();
      throw new AuditError(`${file} holds no audit log (it is a SQLite file, but not one the audit log writes)`);
    }
    // WAL: readers (verify, show) never block appenders, nor the other way round.
    if (file !== ":memory:") db.pragma("journal_mode = WAL");
    db.exec(`
      ${createTable("INTEGER")};
      ${KEYS_TABLE};
      ${KEYS_INDEX};
      CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `);
    return new SqliteStore(db, keyRetention);
  }

  async appendLocked(make: (head: { seq: number; hash: string }) => AuditEntry, key?: string): Promise<AuditEntry> {
    const insert = this.db.prepare(`INSERT INTO audit_log (${COLUMNS}) VALUES (@seq, @timestamp, @actor, @action, @subject, @details, @prev_hash, @hash)`);
    // .immediate is BEGIN IMMEDIATE: the write lock is taken before the head is
    // read, so two connections can never both build on the same head.
    const txn = this.db.transaction(() => {
      if (key !== undefined) {
        const done = this.db.prepare(`SELECT ${KEYED_COLUMNS} FROM audit_keys k JOIN audit_log l ON l.seq = k.seq WHERE k.key = ?`).get(key) as StoredRow | undefined;
        if (done) return toEntry(done);
      }
      const e = make(this.headNow());
      insert.run({ ...e, details: canonicalJson(e.details) });
      if (key !== undefined) {
        this.db.prepare("INSERT INTO audit_keys (key, seq) VALUES (?, ?)").run(key, e.seq);
        this.db.prepare("DELETE FROM audit_keys WHERE seq <= ?").run(e.seq - this.keyRetention);
      }
      return e;
    });
    return txn.immediate();
  }

  private headNow(): { seq: number; hash: string } {
    const r = this.db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").get() as { seq: number; hash: string } | undefined;
    return r ?? { seq: 0, hash: GENESIS_HASH };
  }

  async rows(since: number): Promise<StoredRow[]> {
    return this.db.prepare(`SELECT ${COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq`).all(since) as StoredRow[];
  }
  async head(): Promise<{ seq: number; hash: string }> {
    return this.headNow();
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

class PostgresStore implements Store {
  private constructor(
    private readonly client: pgTypes.Client,
    private readonly keyRetention: number,
  ) {}

  static async open(url: string, schema: string | undefined, keyRetention: number): Promise<PostgresStore> {
    // seq as a number, not the string pg gives for BIGINT.
    const types = { getTypeParser: (oid: number, format?: "text" | "binary") => (oid === 20 ? (v: string) => Number(v) : pgApi().types.getTypeParser(oid, format as "text")) } as pgTypes.CustomTypesConfig;
    const client = new (pgApi().Client)({ connectionString: url, types });
    try {
      await client.connect();
    } catch (e) {
      throw new AuditError(`cannot open the audit log: cannot connect to ${withoutPassword(url)}: ${(e as Error).message}`);
    }
    try {
      if (schema) await client.query(`SET search_path TO "${schema.replace(/"/g, '""')}"`);
      await client.query("BEGIN");
      // Several services may start at once; CREATE OR REPLACE FUNCTION is not safe to race.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('enclave.audit_log.schema'))");
      await client.query(`
        ${createTable("BIGINT")}`);
      await client.query(KEYS_TABLE);
      await client.query(KEYS_INDEX);
      await client.query(`
        CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`);
      await client.query("CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()");
      await client.query("CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()");
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      await client.end().catch(() => undefined);
      throw e;
    }
    return new PostgresStore(client, keyRetention);
  }

  async appendLocked(make: (head: { seq: number; hash: string }) => AuditEntry, key?: string): Promise<AuditEntry> {
    await this.client.query("BEGIN");
    try {
      // Locking the last row is not enough: a waiter would wake up holding the
      // row it waited for, which is no longer the last. A table lock that
      // conflicts with itself (but not with readers) makes the head read after
      // it current.
      await this.client.query("LOCK TABLE audit_log IN EXCLUSIVE MODE");
      if (key !== undefined) {
        const done = (await this.client.query(`SELECT ${KEYED_COLUMNS} FROM audit_keys k JOIN audit_log l ON l.seq = k.seq WHERE k.key = $1`, [key])).rows[0] as StoredRow | undefined;
        if (done) {
          await this.client.query("COMMIT");
          return toEntry(done);
        }
      }
      const e = make(await this.head());
      await this.client.query(`INSERT INTO audit_log (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [e.seq, e.timestamp, e.actor, e.action, e.subject, canonicalJson(e.details), e.prev_hash, e.hash]);
      if (key !== undefined) {
        await this.client.query("INSERT INTO audit_keys (key, seq) VALUES ($1, $2)", [key, e.seq]);
        await this.client.query("DELETE FROM audit_keys WHERE seq <= $1", [e.seq - this.keyRetention]);
      }
      await this.client.query("COMMIT");
      return e;
    } catch (err) {
      await this.client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  async rows(since: number): Promise<StoredRow[]> {
    return (await this.client.query(`SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq`, [since])).rows as StoredRow[];
  }
  async head(): Promise<{ seq: number; hash: string }> {
    const r = (await this.client.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).rows[0] as { seq: number; hash: string } | undefined;
    return r ?? { seq: 0, hash: GENESIS_HASH };
  }
  async close(): Promise<void> {
    await this.client.end();
  }
}
