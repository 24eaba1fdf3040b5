// The job server's state: users, orgs, projects and their members, backends,
// workspaces, job requests and jobs, the releases Airlock sends out (their
// lists and which files have arrived; the bytes themselves are in a folder, see
// api.ts), the requests to publish released files to a workspace's repository,
// and the incidents that restrict a workspace. An embedded SQLite file by default, or
// PostgreSQL given a postgres:// URL; the same SQL for both (see migrations.ts),
// written with `?` placeholders that become $1, $2, ... for PostgreSQL.
//
// Every function takes and returns plain objects; permission decisions are not
// made here but in permissions.ts, from the Principal that principal() loads.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { type AuditLog, type JsonObject, canonicalJson, checkAppendInput } from "../audit/index.js";
import { type Db, type Param, type Row, isUniqueViolation, openMigrated, whereOf } from "./db.js";
import { MIGRATIONS } from "./migrations.js";
import { generateToken, hashPassword, hashToken, tokenMatches, verifyPassword } from "./passwords.js";
import {
  type GlobalRole,
  type Principal,
  type ProjectCategory,
  type ProjectRole,
  type ProjectStatus,
  GLOBAL_ROLES,
  PROJECT_CATEGORIES,
  PROJECT_ROLES,
  PROJECT_STATUSES,
  isGlobalRole,
  isProjectRole,
} from "./permissions.js";

export * from "./permissions.js";

/**
 * Bad input or a conflict the caller can fix; the message says what and how.
 * `kind` lets a web answer tell them apart: something named does not exist
 * (404), the state forbids it (409, a request held by another agent, say), or
 * the input itself is wrong (400).
 */
export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    message: string,
    readonly kind: "invalid" | "not_found" | "conflict" = "invalid",
  ) {
    super(message);
  }
}

/**
 * An audit entry to record with a change: written to the outbox in the
 * change's own transaction, so that it exists exactly when the change does,
 * then moved into the audit log (see flushAudit). A function makes it from
 * the change's result (the identifier of what was made, say); it may give
 * several entries, or none.
 */
export interface AuditNote {
  actor: string;
  action: string;
  subject: string;
  details?: JsonObject;
}
export type Audited<T> = AuditNote | readonly AuditNote[] | ((result: T) => AuditNote | readonly AuditNote[] | undefined);

// ---------------------------------------------------------------------------
// The model as the rest of the code sees it.

export interface User {
  id: number;
  username: string;
  fullName: string;
  email: string;
  isStaff: boolean;
  created: string;
}
export interface Org {
  id: number;
  name: string;
  created: string;
}
export interface Project {
  id: number;
  number: number;
  name: string;
  org: string;
  status: ProjectStatus;
  category: ProjectCategory;
  created: string;
}
export interface Membership {
  username: string;
  project: number;
  roles: ProjectRole[];
}
export interface Backend {
  id: number;
  name: string;
  created: string;
  tokenRotated: string | null;
}
export interface Workspace {
  id: number;
  project: number;
  name: string;
  repo: string;
  branch: string;
  archived: boolean;
  /** An incident is open for it (a leak was cleaned from its repository): no job requests, no publishing. */
  restricted: boolean;
  created: string;
}

// --- job requests and jobs ---------------------------------------------------
//
// A job request names actions of a workspace at a commit, for a backend. The job
// server validates it (requests.ts) and stores it `pending`; one agent of the
// backend claims it atomically (`running`), plans it inside the backend and
// reports its jobs (one per action that runs; reused dependencies are not jobs,
// as in OpenSAFELY), then finishes it. Job ids are jobIdFor(request identifier,
// action) (pipeline/runner.ts), so the same request and action give the same id.

export const REQUEST_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export const JOB_STATUSES = ["pending", "running", "succeeded", "failed"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobRequest {
  /** 16 hex digits; deterministic from the backend, workspace and the request's row. */
  identifier: string;
  workspace: string;
  project: number;
  projectName: string;
  backend: string;
  commit: string;
  /** As requested (may be ["run_all"]). */
  actions: string[];
  force: boolean;
  requester: string;
  created: string;
  status: RequestStatus;
  /** Why it failed or was cancelled, redacted (no file names or contents). */
  message: string;
  /** The agent that claimed it, and when. */
  claimedBy: string | null;
  claimedAt: string | null;
  cancelRequested: boolean;
  /** The first job's start, if any started. */
  started: string | null;
  finished: string | null;
  /** Jobs finished (succeeded or failed) and jobs in all, as the agent reported them. */
  jobsDone: number;
  jobsTotal: number;
}

export interface Job {
  identifier: string;
  jobRequest: string;
  action: string;
  /** The action's run line from project.yaml. */
  runCommand: string;
  status: JobStatus;
  /** The pipeline's status codes (succeeded, nonzero_exit, unmatched_patterns, dependency_failed, internal_error, cancelled_by_user). */
  statusCode: string;
  statusMessage: string;
  created: string;
  started: string | null;
  finished: string | null;
  exitCode: number | null;
  cpuSeconds: number | null;
  memoryBytes: number | null;
}

/** What an agent reports of a job; upserted by identifier. */
export interface JobReport {
  identifier: string;
  action: string;
  runCommand: string;
  status: JobStatus;
  statusCode: string;
  statusMessage: string;
  started: string | null;
  finished: string | null;
  exitCode: number | null;
  cpuSeconds?: number | null;
  memoryBytes?: number | null;
}

export interface NewJobRequest {
  workspace: string;
  backend: string;
  commit: string;
  actions: readonly string[];
  force: boolean;
  requester: string;
}

export interface JobRequestFilter {
  workspace?: string;
  project?: number;
  backend?: string;
  requester?: string;
  status?: RequestStatus;
}

// --- releases -------------------------------------------------------------------
//
// Airlock sends an approved request out in two steps: the list of its files,
// then each file's bytes. The list is kept here at once; a file counts as
// received once its bytes (checked against the list's sha256) are in the
// releases folder, and the release is complete when every file is. Only the
// files of complete releases are shown to anyone.

export interface ReleaseFileEntry {
  /** The file's path in the workspace, as Airlock names it (output/table.csv). */
  name: string;
  size: number;
  sha256: string;
  /** When the file was last changed, as Airlock says (ISO 8601). */
  date: string;
}

export interface ReleaseFile extends ReleaseFileEntry {
  /** When its bytes arrived; null until they have. */
  received: string | null;
  /** Where its bytes are, relative to the releases folder; null until received. */
  stored: string | null;
}

export interface Release {
  /** 16 hex digits, random: the release's name in URLs. */
  id: string;
  workspace: string;
  project: number;
  backend: string;
  /** Airlock's id of the request released. */
  request: string;
  releasedBy: string;
  created: string;
  /** When the last file arrived; null until then. */
  completed: string | null;
  /** In the order of the list. */
  files: ReleaseFile[];
}

export interface NewRelease {
  workspace: string;
  backend: string;
  request: string;
  releasedBy: string;
  files: readonly ReleaseFileEntry[];
}

/** A file of a complete release, as members see it. */
export interface ReleasedFile extends ReleaseFileEntry {
  release: string;
  request: string;
  workspace: string;
  releasedBy: string;
  /** When the release was complete. */
  released: string;
  stored: string;
}

// --- publish requests --------------------------------------------------------------
//
// Released files reach a study's repository only this way: a member asks for
// some of them, an OutputPublisher who is not the requester approves (or
// rejects), and an operator's `enclave publish` commits the approved files.
// Who may move a request is decided in api.ts; what each state allows, here.

export const PUBLISH_STATUSES = ["pending", "approved", "rejected", "published"] as const;
export type PublishStatus = (typeof PUBLISH_STATUSES)[number];

/**
 * The moves a publish request may make, the one table they are judged by
 * (checkPublishTransition). Rejected and published are final: a rejected
 * request is asked for again as a new one, so each decision stays on record.
 */
export const PUBLISH_TRANSITIONS: Readonly<Record<PublishStatus, readonly PublishStatus[]>> = {
  pending: ["approved", "rejected"],
  approved: ["published"],
  rejected: [],
  published: [],
};

/** Throws (a conflict) unless a publish request may move from one state to the other. */
export function checkPublishTransition(identifier: string, from: PublishStatus, to: PublishStatus): void {
  if (PUBLISH_TRANSITIONS[from].includes(to)) return;
  const why: Record<PublishStatus, string> = {
    pending: "it has not been approved yet",
    approved: "it has been approved already",
    rejected: "it was rejected: ask for the files again in a new request",
    published: "it has been published already",
  };
  throw new StoreError(`publish request ${identifier} cannot go from ${from} to ${to}: ${why[from]}`, "conflict");
}

/** A released file named by a publish request, with what `enclave publish` needs to check and commit it. */
export interface PublishFile {
  release: string;
  /** Airlock's id of the request the release came from. */
  request: string;
  name: string;
  size: number;
  sha256: string;
  releasedBy: string;
  released: string;
  /** Where its bytes are, relative to the releases folder. */
  stored: string;
}

export interface PublishRequest {
  /** 16 hex digits, random. */
  id: string;
  workspace: string;
  project: number;
  requester: string;
  note: string;
  created: string;
  status: PublishStatus;
  decidedBy: string | null;
  decided: string | null;
  decisionNote: string;
  published: string | null;
  /** Who ran `enclave publish` (an operator's name, not necessarily an account). */
  publishedBy: string | null;
  /** The commit the files were published in, the repository and the branch it was made on. */
  commit: string | null;
  repo: string | null;
  branch: string | null;
  /** In the order of their names. */
  files: PublishFile[];
}

export interface NewPublishRequest {
  workspace: string;
  requester: string;
  note?: string;
  /** Files of complete releases of the workspace. */
  files: readonly { release: string; name: string }[];
}

export interface PublishRequestFilter {
  status?: PublishStatus;
  workspace?: string;
}

// --- incidents --------------------------------------------------------------------

export interface IncidentBlob {
  id: string;
  size: number;
  paths: string[];
}

export interface Incident {
  /** 16 hex digits, random. */
  id: string;
  workspace: string;
  project: number;
  /** The repository cleaned, as `enclave breach clean` named it (its origin, or its folder). */
  repo: string;
  blobs: IncidentBlob[];
  refsRewritten: string[];
  refsDeleted: string[];
  openedBy: string;
  opened: string;
  closedBy: string | null;
  closed: string | null;
  closeNote: string | null;
}

export type NewIncident = Pick<Incident, "workspace" | "repo" | "blobs" | "refsRewritten" | "refsDeleted" | "openedBy">;

/** Why a restricted workspace refuses something: names the incident, so that whoever is refused knows whom to ask. */
export function restrictedMessage(workspace: string, incident: Pick<Incident, "id" | "opened">, refused: string): string {
  return `workspace ${workspace} is restricted by incident ${incident.id} (a leak was cleaned from its repository on ${incident.opened.slice(0, 10)}): ${refused} until staff close the incident`;
}

export interface Session {
  user: User;
  /** The CSRF token bound to this session (every form posts it back). */
  csrf: string;
  expires: string;
}

export interface OpenOptions {
  /** PostgreSQL: the schema to use (created if missing); default the search_path. */
  schema?: string;
  /** The clock for `created` and the like; the system clock unless a test says otherwise. */
  clock?: () => Date;
}

const USER_COLUMNS = "id, username, full_name, email, is_staff, created";
const toUser = (r: Row): User => ({ id: Number(r.id), username: String(r.username), fullName: String(r.full_name), email: String(r.email), isStaff: Number(r.is_staff) === 1, created: String(r.created) });
const PROJECT_SELECT = "SELECT p.id, p.number, p.name, o.name AS org, p.status, p.category, p.created FROM projects p JOIN orgs o ON o.id = p.org_id";
const toProject = (r: Row): Project => ({ id: Number(r.id), number: Number(r.number), name: String(r.name), org: String(r.org), status: r.status as ProjectStatus, category: r.category as ProjectCategory, created: String(r.created) });
const toBackend = (r: Row): Backend => ({ id: Number(r.id), name: String(r.name), created: String(r.created), tokenRotated: r.token_rotated == null ? null : String(r.token_rotated) });

let unknownUserHash: Promise<string> | undefined;

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class Store {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly clock: () => Date,
    /** The migrations this open applied (empty when the schema was current). */
    readonly appliedMigrations: readonly number[],
    /** The SQLite file, so that what belongs beside it (released files) can be put there; undefined for PostgreSQL and :memory:. */
    readonly file?: string,
  ) {}

  /** Opens (creating and migrating if need be) the store at a SQLite path, `sqlite://path`, or a postgres(ql):// URL. */
  static async open(target: string, options: OpenOptions = {}): Promise<Store> {
    const { db, applied } = await openMigrated(target, {
      schema: options.schema,
      // Named for the migrations, though every write transaction takes it: renaming it would let an older process write alongside.
      lockName: "enclave.jobserver.migrations",
      noFile: () => new StoreError("the store needs a file: sqlite:///path/to/enclave.db"),
      cannotOpen: (why) => new StoreError(`the job server's database: ${why}`),
    }, MIGRATIONS, "schema_migrations");
    return new Store(db, options.clock ?? (() => new Date()), applied, db.file);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.db.close();
  }

  /** The versions recorded in schema_migrations, in order. */
  async migrationVersions(): Promise<number[]> {
    return (await this.db.all("SELECT version FROM schema_migrations ORDER BY version")).map((r) => Number(r.version));
  }

  // One connection serves one transaction at a time, so calls wait for each other.
  // `lock` takes the database's write lock first, for a change that other
  // processes (or stores) must not interleave with: a claim, say. `audited`
  // goes to the outbox in the same transaction, and is moved into the audit
  // log once it has committed.
  private serial<T>(fn: () => Promise<T>, lock = false, audited?: Audited<T>): Promise<T> {
    let recorded = 0;
    // An audited change writes, so it takes the write lock up front (waiting without blocking the event loop, see db.ts).
    const run = this.queue.then(() =>
      this.db.transaction(async () => {
        const result = await fn();
        if (audited !== undefined) recorded = await this.writeOutbox(typeof audited === "function" ? audited(result) : audited);
        return result;
      }, lock || audited !== undefined),
    );
    this.queue = run.catch(() => undefined);
    if (audited === undefined) return run;
    return run.then(async (result) => {
      if (recorded > 0) await this.deliverAudit();
      return result;
    });
  }

  // --- the audit outbox -------------------------------------------------------
  //
  // The audit log is another database, so no transaction spans a change and
  // its entry. Instead the entry is written beside the change, in the store,
  // and moved into the log afterwards, each with a key that the log keeps, so
  // that a move interrupted between the append and the delete is not appended
  // twice. Whoever holds a store and a log can move what is waiting: the job
  // server does so after each change, on start and every few seconds; the
  // admin commands after theirs.

  private readonly attachments: { log: AuditLog; onError: (e: Error) => void }[] = [];
  private flushing: Promise<unknown> = Promise.resolve();

  private async writeOutbox(notes: AuditNote | readonly AuditNote[] | undefined): Promise<number> {
    const list = notes === undefined ? [] : Array.isArray(notes) ? (notes as readonly AuditNote[]) : [notes as AuditNote];
    for (const n of list) {
      // Checked now: an entry the log would refuse must stop the change, not wait in the outbox for ever.
      const details = checkAppendInput(n);
      await this.db.all("INSERT INTO audit_outbox (key, recorded, actor, action, subject, details) VALUES (?, ?, ?, ?, ?, ?)", [randomUUID(), this.now(), n.actor, n.action, n.subject, canonicalJson(details)]);
    }
    return list.length;
  }

  /** Records entries that go with no change here (a refused request, a download), through the outbox like every other. */
  recordAudit(notes: AuditNote | readonly AuditNote[]): Promise<void> {
    return this.serial(async () => undefined, false, notes);
  }

  /**
   * Moves the outbox into `log` after every audited change from now on, and
   * reports a failed move to `onError` (the entries stay in the outbox, for
   * the next move). Returns what undoes it.
   */
  attachAuditLog(log: AuditLog, onError: (e: Error) => void = () => undefined): () => void {
    // Several servers may share a store (in tests, say): the latest attachment serves, and undoing it gives the one before back.
    const attachment = { log, onError };
    this.attachments.push(attachment);
    return () => {
      const at = this.attachments.indexOf(attachment);
      if (at >= 0) this.attachments.splice(at, 1);
    };
  }

  private get auditLog(): AuditLog | undefined {
    return this.attachments[this.attachments.length - 1]?.log;
  }

  private async deliverAudit(): Promise<void> {
    const attached = this.attachments[this.attachments.length - 1];
    if (!attached) return;
    try {
      await this.flushAudit(attached.log);
    } catch (e) {
      attached.onError(e as Error);
    }
  }

  /** How many entries wait in the outbox. */
  async pendingAudit(): Promise<number> {
    return this.serial(async () => Number((await this.one("SELECT COUNT(*) AS n FROM audit_outbox", []))!.n));
  }

  /**
   * Moves every entry waiting in the outbox into the audit log (the attached
   * one, or `log`), oldest first, each with its time of recording; returns how
   * many. Safe to run from several processes at once: the keys make each
   * entry appear once.
   */
  flushAudit(log: AuditLog | undefined = this.auditLog): Promise<number> {
    if (!log) return Promise.reject(new StoreError("there is no audit log to move the outbox into"));
    const run = this.flushing.then(async () => {
      let moved = 0;
      for (;;) {
        const rows = await this.serial(() => this.db.all("SELECT key, recorded, actor, action, subject, details FROM audit_outbox ORDER BY id LIMIT 500"));
        if (rows.length === 0) return moved;
        for (const r of rows) {
          await log.append({ actor: String(r.actor), action: String(r.action), subject: String(r.subject), details: JSON.parse(String(r.details)) as JsonObject, timestamp: new Date(String(r.recorded)), key: String(r.key) });
        }
        const keys = rows.map((r) => String(r.key));
        await this.serial(() => this.db.all(`DELETE FROM audit_outbox WHERE key IN (${keys.map(() => "?").join(", ")})`, keys), true);
        moved += rows.length;
      }
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private async one(sql: string, params: readonly Param[]): Promise<Row | undefined> {
    return (await this.db.all(sql, params))[0];
  }

  private async insert(sql: string, params: readonly Param[], duplicate: string): Promise<number> {
    try {
      return Number((await this.one(`${sql} RETURNING id`, params))!.id);
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreError(duplicate, "conflict");
      throw e;
    }
  }

  // --- users -----------------------------------------------------------------

  createUser(input: { username: string; password: string; fullName?: string; email?: string; isStaff?: boolean }, audit?: Audited<User>): Promise<User> {
    if (!USERNAME.test(input.username)) throw new StoreError(`${JSON.stringify(input.username)} is not a username: use letters, digits, '.', '_' and '-' (up to 64, starting with a letter or digit)`);
    // Hashed outside the transaction: scrypt is slow on purpose and needs no lock.
    return hashPassword(input.password).then((hash) =>
      this.serial(async () => {
        const id = await this.insert(
          "INSERT INTO users (username, full_name, email, password_hash, is_staff, created) VALUES (?, ?, ?, ?, ?, ?)",
          [input.username, input.fullName ?? "", input.email ?? "", hash, input.isStaff ? 1 : 0, this.now()],
          `a user named ${input.username} already exists`,
        );
        return toUser((await this.one(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]))!);
      }, false, audit),
    );
  }

  getUser(username: string): Promise<User | undefined> {
    return this.serial(async () => {
      const r = await this.one(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`, [username]);
      return r && toUser(r);
    });
  }

  listUsers(): Promise<User[]> {
    return this.serial(async () => (await this.db.all(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`)).map(toUser));
  }

  private async userId(username: string): Promise<number> {
    const r = await this.one("SELECT id FROM users WHERE username = ?", [username]);
    if (!r) throw new StoreError(`there is no user named ${username}`, "not_found");
    return Number(r.id);
  }

  /** The user, if the password is theirs; undefined otherwise (including an unknown user). */
  async checkPassword(username: string, password: string): Promise<User | undefined> {
    const r = await this.serial(() => this.one(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = ?`, [username]));
    if (!r) {
      // The same scrypt work as for a real account, so the time taken does not tell who has one.
      await verifyPassword(password, await (unknownUserHash ??= hashPassword(generateToken())));
      return undefined;
    }
    return (await verifyPassword(password, String(r.password_hash))) ? toUser(r) : undefined;
  }

  async setPassword(username: string, password: string, audit?: Audited<void>): Promise<void> {
    const hash = await hashPassword(password);
    await this.serial(async () => {
      await this.userId(username);
      await this.db.all("UPDATE users SET password_hash = ? WHERE username = ?", [hash, username]);
    }, false, audit);
  }

  /** A new API token for the user (shown once); any previous one stops working. */
  rotateApiToken(username: string, audit?: Audited<string>): Promise<string> {
    return this.serial(async () => {
      await this.userId(username);
      const token = generateToken();
      await this.db.all("UPDATE users SET api_token_hash = ? WHERE username = ?", [hashToken(token), username]);
      return token;
    }, false, audit);
  }

  /** The user an API token belongs to; looked up by its hash, so the token itself is never stored. */
  userForApiToken(token: string): Promise<User | undefined> {
    return this.serial(async () => {
      const r = await this.one(`SELECT ${USER_COLUMNS} FROM users WHERE api_token_hash = ?`, [hashToken(token)]);
      return r && toUser(r);
    });
  }

  grantGlobalRole(username: string, role: GlobalRole, audit?: Audited<void>): Promise<void> {
    if (!isGlobalRole(role)) throw new StoreError(unknownRole(role, GLOBAL_ROLES));
    return this.serial(async () => {
      const id = await this.userId(username);
      const held = await this.one("SELECT 1 AS x FROM user_roles WHERE user_id = ? AND role = ?", [id, role]);
      if (!held) await this.db.all("INSERT INTO user_roles (user_id, role) VALUES (?, ?)", [id, role]);
    }, false, audit);
  }

  /** Everything `can` needs to decide for this user. */
  principal(username: string): Promise<Principal> {
    return this.serial(async () => {
      const id = await this.userId(username);
      const globalRoles = (await this.db.all("SELECT role FROM user_roles WHERE user_id = ? ORDER BY role", [id])).map((r) => String(r.role)).filter(isGlobalRole);
      const projectRoles: Record<number, ProjectRole[]> = {};
      const rows = await this.db.all("SELECT p.number, mr.role FROM memberships m JOIN projects p ON p.id = m.project_id JOIN membership_roles mr ON mr.membership_id = m.id WHERE m.user_id = ? ORDER BY p.number, mr.role", [id]);
      for (const r of rows) if (isProjectRole(String(r.role))) (projectRoles[Number(r.number)] ??= []).push(r.role as ProjectRole);
      return { username, globalRoles, projectRoles };
    });
  }

  // --- orgs and projects ------------------------------------------------------

  createOrg(name: string, audit?: Audited<Org>): Promise<Org> {
    if (name.trim() === "") throw new StoreError("an org needs a name");
    return this.serial(async () => {
      const id = await this.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", [name, this.now()], `an org named ${name} already exists`);
      const r = (await this.one("SELECT id, name, created FROM orgs WHERE id = ?", [id]))!;
      return { id, name: String(r.name), created: String(r.created) };
    }, false, audit);
  }

  listOrgs(): Promise<Org[]> {
    return this.serial(async () => (await this.db.all("SELECT id, name, created FROM orgs ORDER BY name")).map((r) => ({ id: Number(r.id), name: String(r.name), created: String(r.created) })));
  }

  createProject(input: { number: number; name: string; org: string; category?: ProjectCategory; status?: ProjectStatus }, audit?: Audited<Project>): Promise<Project> {
    const category = input.category ?? "approved";
    const status = input.status ?? "ongoing";
    if (!Number.isSafeInteger(input.number) || input.number <= 0) throw new StoreError(`a project number is a positive whole number, not ${JSON.stringify(input.number)}`);
    if (input.name.trim() === "") throw new StoreError("a project needs a name");
    if (!PROJECT_CATEGORIES.includes(category)) throw new StoreError(`unknown category ${JSON.stringify(category)}: use one of ${PROJECT_CATEGORIES.map((c) => JSON.stringify(c)).join(", ")}`);
    if (!PROJECT_STATUSES.includes(status)) throw new StoreError(unknownStatus(status));
    return this.serial(async () => {
      const org = await this.one("SELECT id FROM orgs WHERE name = ?", [input.org]);
      if (!org) throw new StoreError(`there is no org named ${input.org}`, "not_found");
      await this.insert(
        "INSERT INTO projects (number, name, org_id, status, category, created) VALUES (?, ?, ?, ?, ?, ?)",
        [input.number, input.name, Number(org.id), status, category, this.now()],
        `project ${input.number} already exists`,
      );
      return toProject((await this.one(`${PROJECT_SELECT} WHERE p.number = ?`, [input.number]))!);
    }, false, audit);
  }

  getProject(number: number): Promise<Project | undefined> {
    return this.serial(async () => {
      const r = await this.one(`${PROJECT_SELECT} WHERE p.number = ?`, [number]);
      return r && toProject(r);
    });
  }

  listProjects(): Promise<Project[]> {
    return this.serial(async () => (await this.db.all(`${PROJECT_SELECT} ORDER BY p.number`)).map(toProject));
  }

  private async projectId(number: number): Promise<number> {
    const r = await this.one("SELECT id FROM projects WHERE number = ?", [number]);
    if (!r) throw new StoreError(`there is no project ${number}`, "not_found");
    return Number(r.id);
  }

  /** Sets the status and returns the one it had. Members' job running and level 4 access follow at once, through `can`. */
  setProjectStatus(number: number, status: ProjectStatus, audit?: Audited<{ previous: ProjectStatus; project: Project }>): Promise<{ previous: ProjectStatus; project: Project }> {
    if (!PROJECT_STATUSES.includes(status)) throw new StoreError(unknownStatus(status));
    return this.serial(async () => {
      const before = await this.one("SELECT status FROM projects WHERE number = ?", [number]);
      if (!before) throw new StoreError(`there is no project ${number}`, "not_found");
      await this.db.all("UPDATE projects SET status = ? WHERE number = ?", [status, number]);
      return { previous: before.status as ProjectStatus, project: toProject((await this.one(`${PROJECT_SELECT} WHERE p.number = ?`, [number]))!) };
    }, false, audit);
  }

  // --- memberships ------------------------------------------------------------

  /** Makes the user a member of the project (if not already) with these roles added; returns the membership. */
  addMember(project: number, username: string, roles: readonly ProjectRole[], audit?: Audited<Membership>): Promise<Membership> {
    for (const r of roles) if (!isProjectRole(r)) throw new StoreError(unknownRole(r, PROJECT_ROLES));
    return this.serial(async () => {
      const projectId = await this.projectId(project);
      const userId = await this.userId(username);
      let m = await this.one("SELECT id FROM memberships WHERE user_id = ? AND project_id = ?", [userId, projectId]);
      if (!m) m = { id: await this.insert("INSERT INTO memberships (user_id, project_id, created) VALUES (?, ?, ?)", [userId, projectId, this.now()], `${username} is already a member of project ${project}`) };
      for (const role of roles) {
        const held = await this.one("SELECT 1 AS x FROM membership_roles WHERE membership_id = ? AND role = ?", [Number(m.id), role]);
        if (!held) await this.db.all("INSERT INTO membership_roles (membership_id, role) VALUES (?, ?)", [Number(m.id), role]);
      }
      const held = (await this.db.all("SELECT role FROM membership_roles WHERE membership_id = ? ORDER BY role", [Number(m.id)])).map((r) => r.role as ProjectRole);
      return { username, project, roles: held };
    }, false, audit);
  }

  listMembers(project: number): Promise<Membership[]> {
    return this.serial(async () => {
      const projectId = await this.projectId(project);
      const rows = await this.db.all("SELECT u.username, mr.role FROM memberships m JOIN users u ON u.id = m.user_id LEFT JOIN membership_roles mr ON mr.membership_id = m.id WHERE m.project_id = ? ORDER BY u.username, mr.role", [projectId]);
      const by = new Map<string, Membership>();
      for (const r of rows) {
        const m = by.get(String(r.username)) ?? { username: String(r.username), project, roles: [] };
        if (r.role != null) m.roles.push(r.role as ProjectRole);
        by.set(m.username, m);
      }
      return [...by.values()];
    });
  }

  // --- backends ---------------------------------------------------------------

  /** Creates a backend and returns its token, which is not stored and cannot be shown again. */
  createBackend(name: string, audit?: Audited<{ backend: Backend; token: string }>): Promise<{ backend: Backend; token: string }> {
    if (!USERNAME.test(name)) throw new StoreError(`${JSON.stringify(name)} is not a backend name: use letters, digits, '.', '_' and '-'`);
    return this.serial(async () => {
      const token = generateToken();
      const id = await this.insert("INSERT INTO backends (name, token_hash, created) VALUES (?, ?, ?)", [name, hashToken(token), this.now()], `a backend named ${name} already exists`);
      return { backend: toBackend((await this.one("SELECT id, name, created, token_rotated FROM backends WHERE id = ?", [id]))!), token };
    }, false, audit);
  }

  /** A new token for the backend; the old one stops working at once. */
  rotateBackendToken(name: string, audit?: Audited<string>): Promise<string> {
    return this.serial(async () => {
      const token = generateToken();
      const r = await this.one("UPDATE backends SET token_hash = ?, token_rotated = ? WHERE name = ? RETURNING id", [hashToken(token), this.now(), name]);
      if (!r) throw new StoreError(`there is no backend named ${name}`, "not_found");
      return token;
    }, false, audit);
  }

  /** The backend, if the token is its current one. */
  authenticateBackend(name: string, token: string): Promise<Backend | undefined> {
    return this.serial(async () => {
      const r = await this.one("SELECT id, name, created, token_rotated, token_hash FROM backends WHERE name = ?", [name]);
      return r && tokenMatches(token, String(r.token_hash)) ? toBackend(r) : undefined;
    });
  }

  listBackends(): Promise<Backend[]> {
    return this.serial(async () => (await this.db.all("SELECT id, name, created, token_rotated FROM backends ORDER BY name")).map(toBackend));
  }

  addBackendMember(backend: string, username: string, audit?: Audited<void>): Promise<void> {
    return this.serial(async () => {
      const b = await this.one("SELECT id FROM backends WHERE name = ?", [backend]);
      if (!b) throw new StoreError(`there is no backend named ${backend}`, "not_found");
      const userId = await this.userId(username);
      const held = await this.one("SELECT 1 AS x FROM backend_memberships WHERE user_id = ? AND backend_id = ?", [userId, Number(b.id)]);
      if (!held) await this.db.all("INSERT INTO backend_memberships (user_id, backend_id, created) VALUES (?, ?, ?)", [userId, Number(b.id), this.now()]);
    }, false, audit);
  }

  /** The backends the user may run jobs on. */
  userBackends(username: string): Promise<string[]> {
    return this.serial(async () => {
      const userId = await this.userId(username);
      return (await this.db.all("SELECT b.name FROM backend_memberships bm JOIN backends b ON b.id = bm.backend_id WHERE bm.user_id = ? ORDER BY b.name", [userId])).map((r) => String(r.name));
    });
  }

  // --- workspaces ---------------------------------------------------------------

  createWorkspace(input: { project: number; name: string; repo: string; branch: string }, audit?: Audited<Workspace>): Promise<Workspace> {
    if (!USERNAME.test(input.name)) throw new StoreError(`${JSON.stringify(input.name)} is not a workspace name: use letters, digits, '.', '_' and '-'`);
    if (input.repo.trim() === "" || input.branch.trim() === "") throw new StoreError("a workspace needs a repository and a branch");
    return this.serial(async () => {
      const projectId = await this.projectId(input.project);
      const id = await this.insert("INSERT INTO workspaces (project_id, name, repo, branch, created) VALUES (?, ?, ?, ?, ?)", [projectId, input.name, input.repo, input.branch, this.now()], `a workspace named ${input.name} already exists`);
      return this.workspaceById(id);
    }, false, audit);
  }

  private async workspaceById(id: number): Promise<Workspace> {
    return toWorkspace((await this.one(`${WORKSPACE_SELECT} WHERE w.id = ?`, [id]))!);
  }

  setWorkspaceArchived(name: string, archived: boolean, audit?: Audited<Workspace>): Promise<Workspace> {
    return this.serial(async () => {
      const r = await this.one("UPDATE workspaces SET archived = ? WHERE name = ? RETURNING id", [archived ? 1 : 0, name]);
      if (!r) throw new StoreError(`there is no workspace named ${name}`, "not_found");
      return this.workspaceById(Number(r.id));
    }, false, audit);
  }
  // --- workspaces (reading) -------------------------------------------------------

  getWorkspace(name: string): Promise<Workspace | undefined> {
    return this.serial(async () => {
      const r = await this.one(`${WORKSPACE_SELECT} WHERE w.name = ?`, [name]);
      return r && toWorkspace(r);
    });
  }

  /** Every workspace, or a project's, by name. */
  listWorkspaces(project?: number): Promise<Workspace[]> {
    return this.serial(async () => {
      if (project === undefined) return (await this.db.all(`${WORKSPACE_SELECT} ORDER BY w.name`)).map(toWorkspace);
      const projectId = await this.projectId(project);
      return (await this.db.all(`${WORKSPACE_SELECT} WHERE w.project_id = ? ORDER BY w.name`, [projectId])).map(toWorkspace);
    });
  }

  // --- roles (changing) ---------------------------------------------------------------

  /** Takes the role away; not holding it is no error. */
  async revokeGlobalRole(username: string, role: GlobalRole, audit?: Audited<void>): Promise<void> {
    if (!isGlobalRole(role)) throw new StoreError(unknownRole(role, GLOBAL_ROLES));
    await this.serial(async () => {
      const id = await this.userId(username);
      await this.db.all("DELETE FROM user_roles WHERE user_id = ? AND role = ?", [id, role]);
    }, false, audit);
  }

  /** Removes these roles from the member (the membership stays, possibly with no roles). */
  async removeMemberRoles(project: number, username: string, roles: readonly ProjectRole[], audit?: Audited<Membership>): Promise<Membership> {
    for (const r of roles) if (!isProjectRole(r)) throw new StoreError(unknownRole(r, PROJECT_ROLES));
    return this.serial(async () => {
      const projectId = await this.projectId(project);
      const userId = await this.userId(username);
      const m = await this.one("SELECT id FROM memberships WHERE user_id = ? AND project_id = ?", [userId, projectId]);
      if (!m) throw new StoreError(`${username} is not a member of project ${project}`, "not_found");
      for (const role of roles) await this.db.all("DELETE FROM membership_roles WHERE membership_id = ? AND role = ?", [Number(m.id), role]);
      const held = (await this.db.all("SELECT role FROM membership_roles WHERE membership_id = ? ORDER BY role", [Number(m.id)])).map((r) => r.role as ProjectRole);
      return { username, project, roles: held };
    }, false, audit);
  }

  // --- sessions and login throttling -------------------------------------------------------

  /** A new session for the user; the token is returned once and stored hashed. */
  async createSession(username: string, ttlSeconds: number): Promise<{ token: string; csrf: string; expires: string }> {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new StoreError(`a session lasts a positive number of seconds, not ${JSON.stringify(ttlSeconds)}`);
    return this.serial(async () => {
      const userId = await this.userId(username);
      const now = this.clock();
      const token = generateToken();
      const csrf = generateToken();
      const expires = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
      // Expired sessions are of no use to anyone; this keeps the table to the live ones.
      await this.db.all("DELETE FROM sessions WHERE expires <= ?", [now.toISOString()]);
      await this.db.all("INSERT INTO sessions (token_hash, user_id, csrf, created, expires) VALUES (?, ?, ?, ?, ?)", [hashToken(token), userId, csrf, now.toISOString(), expires]);
      return { token, csrf, expires };
    }, true);
  }

  /** The session's user and CSRF token, if the token is a live session's. */
  session(token: string): Promise<Session | undefined> {
    return this.serial(async () => {
      const r = await this.one(
        `SELECT ${USER_COLUMNS.split(", ").map((c) => `u.${c}`).join(", ")}, s.csrf, s.expires FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires > ?`,
        [hashToken(token), this.now()],
      );
      return r && { user: toUser(r), csrf: String(r.csrf), expires: String(r.expires) };
    });
  }

  deleteSession(token: string, audit?: Audited<void>): Promise<void> {
    return this.serial(async () => {
      await this.db.all("DELETE FROM sessions WHERE token_hash = ?", [hashToken(token)]);
    }, true, audit);
  }

  /**
   * Records a failed login for a key (a username, an address) and returns how
   * many failures it has since `since`. Failures before `since` (of any key)
   * are forgotten: the window is the caller's, and the table stays small.
   */
  recordLoginFailure(key: string, since: string, audit?: Audited<number>): Promise<number> {
    return this.serial(async () => {
      await this.db.all("DELETE FROM login_failures WHERE at < ?", [since]);
      await this.db.all("INSERT INTO login_failures (subject, at) VALUES (?, ?)", [key, this.now()]);
      return this.countLoginFailures(key, since);
    }, true, audit);
  }

  loginFailures(key: string, since: string): Promise<number> {
    return this.serial(() => this.countLoginFailures(key, since));
  }

  clearLoginFailures(key: string, audit?: Audited<void>): Promise<void> {
    return this.serial(async () => {
      await this.db.all("DELETE FROM login_failures WHERE subject = ?", [key]);
    }, true, audit);
  }

  private async countLoginFailures(key: string, since: string): Promise<number> {
    return Number((await this.one("SELECT COUNT(*) AS n FROM login_failures WHERE subject = ? AND at >= ?", [key, since]))!.n);
  }

  // --- job requests and jobs ------------------------------------------------------------

  /** Stores a validated request as pending (requests.ts validates; this checks only that the workspace and backend exist and the workspace is not archived). */
  async createJobRequest(input: NewJobRequest, audit?: Audited<JobRequest>): Promise<JobRequest> {
    if (!COMMIT.test(input.commit)) throw new StoreError(`a job request names a full commit (40 lower-case hex digits), not ${JSON.stringify(input.commit)}`);
    if (input.actions.length === 0 || input.actions.some((a) => typeof a !== "string" || a.trim() === "")) {
      throw new StoreError("a job request names at least one action (or run_all), and no empty name");
    }
    return this.serial(async () => {
      const ws = await this.one("SELECT id, project_id, archived FROM workspaces WHERE name = ?", [input.workspace]);
      if (!ws) throw new StoreError(`there is no workspace named ${input.workspace}`, "not_found");
      if (Number(ws.archived) === 1) throw new StoreError(`workspace ${input.workspace} is archived: it takes no new job requests`, "conflict");
      // Checked here too, under the lock: an incident may have opened since requests.ts looked.
      const incident = await this.openIncidentOf(Number(ws.id));
      if (incident) throw new StoreError(restrictedMessage(input.workspace, incident, "it takes no job requests"), "conflict");
      const backendId = await this.backendId(input.backend);
      const requesterId = await this.userId(input.requester);
      const row = await this.one(
        "INSERT INTO job_requests (workspace_id, project_id, backend_id, commit_sha, requested_actions, force_run_dependencies, requester_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [Number(ws.id), Number(ws.project_id), backendId, input.commit, JSON.stringify([...input.actions]), input.force ? 1 : 0, requesterId, this.now()],
      );
      const id = Number(row!.id);
      // The row's id makes it unique; the backend and workspace make it unlike another server's.
      const identifier = createHash("sha256").update(`${input.backend}\n${input.workspace}\n${id}`).digest("hex").slice(0, 16);
      await this.db.all("UPDATE job_requests SET identifier = ? WHERE id = ?", [identifier, id]);
      return (await this.requests("id = ?", [id], 1))[0]!;
    }, true, audit);
  }

  getJobRequest(identifier: string): Promise<JobRequest | undefined> {
    return this.serial(async () => (await this.requests("identifier = ?", [identifier], 1))[0]);
  }

  /** Newest first; `before` is an identifier to page on from. */
  async listJobRequests(filter: JobRequestFilter, page: { limit: number; before?: string }): Promise<JobRequest[]> {
    if (!Number.isSafeInteger(page.limit) || page.limit < 1 || page.limit > MAX_PAGE) throw new StoreError(`a page holds 1 to ${MAX_PAGE} job requests, not ${JSON.stringify(page.limit)}`);
    const { where, params } = requestFilter(filter);
    return this.serial(async () => {
      if (page.before === undefined) return this.requests(where, params, page.limit);
      const cursor = await this.one("SELECT id FROM job_requests WHERE identifier = ?", [page.before]);
      if (!cursor) throw new StoreError(`there is no job request ${page.before} to page on from`, "not_found");
      return this.requests(`${where} AND id < ?`, [...params, Number(cursor.id)], page.limit);
    });
  }

  async countJobRequests(filter: JobRequestFilter): Promise<number> {
    const { where, params } = requestFilter(filter);
    return this.serial(async () => Number((await this.one(`SELECT COUNT(*) AS n FROM job_requests WHERE ${where}`, params))!.n));
  }

  /** The request's jobs in the order the agent first reported them (none for an unknown request). */
  listJobs(jobRequest: string): Promise<Job[]> {
    return this.serial(async () => (await this.db.all(`${JOB_SELECT} WHERE r.identifier = ? ORDER BY j.id`, [jobRequest])).map(toJob));
  }

  getJob(identifier: string): Promise<Job | undefined> {
    return this.serial(async () => {
      const r = await this.one(`${JOB_SELECT} WHERE j.identifier = ?`, [identifier]);
      return r && toJob(r);
    });
  }

  /** A pending request nobody claimed is cancelled at once; a running one gets cancelRequested (its agent stops it). */
  cancelJobRequest(identifier: string, audit?: Audited<JobRequest>): Promise<JobRequest> {
    return this.serial(async () => {
      const r = await this.one("SELECT id, status FROM job_requests WHERE identifier = ?", [identifier]);
      if (!r) throw new StoreError(`there is no job request ${identifier}`, "not_found");
      const id = Number(r.id);
      if (r.status === "pending") {
        await this.db.all("UPDATE job_requests SET status = 'cancelled', cancel_requested = 1, message = ?, finished = ? WHERE id = ?", ["cancelled before it started", this.now(), id]);
      } else if (r.status === "running") {
        await this.db.all("UPDATE job_requests SET cancel_requested = 1 WHERE id = ?", [id]);
      } else if (r.status !== "cancelled") {
        throw new StoreError(`job request ${identifier} has already finished (${String(r.status)}): there is nothing to cancel`, "conflict");
      }
      return (await this.requests("id = ?", [id], 1))[0]!;
    }, true, audit);
  }

  /**
   * Atomically gives the agent the next pending request of its backend, or
   * undefined: at most one agent ever gets a request. Fair across workspaces: a
   * workspace with a request already running on this backend is skipped, and
   * among the rest the workspace that was served least recently goes first.
   */
  async claimJobRequest(backend: string, agent: string, audit?: Audited<JobRequest | undefined>): Promise<JobRequest | undefined> {
    checkAgent(agent);
    // Under the write lock, so the choice and the claim are one step for every
    // agent and process; the status test in the UPDATE is a second guard.
    return this.serial(async () => {
      const backendId = await this.backendId(backend);
      const next = await this.one(
        // One candidate per workspace (its oldest pending request), so the
        // "served least recently" lookup runs once a workspace, not once a request.
        `SELECT id FROM (
           SELECT MIN(r.id) AS id,
                  COALESCE((SELECT MAX(y.claimed_at) FROM job_requests y WHERE y.backend_id = r.backend_id AND y.workspace_id = r.workspace_id), '') AS served
           FROM job_requests r
           WHERE r.backend_id = ? AND r.status = 'pending'
             AND NOT EXISTS (SELECT 1 FROM job_requests x WHERE x.backend_id = r.backend_id AND x.status = 'running' AND x.workspace_id = r.workspace_id)
             -- A restricted workspace's repository is being cleaned: what it asked for before waits until the incident is closed.
             AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.workspace_id = r.workspace_id AND i.closed IS NULL)
           GROUP BY r.backend_id, r.workspace_id
         ) candidates
         ORDER BY served ASC, id ASC
         LIMIT 1`,
        [backendId],
      );
      if (!next) return undefined;
      const id = Number(next.id);
      const claimed = await this.one("UPDATE job_requests SET status = 'running', claimed_by = ?, claimed_at = ? WHERE id = ? AND status = 'pending' RETURNING id", [agent, this.now(), id]);
      return claimed ? (await this.requests("id = ?", [id], 1))[0] : undefined;
    }, true, audit);
  }

  /** Upserts the agent's jobs of a request it holds (a StoreError otherwise); returns whether cancellation was asked for. */
  async reportJobs(jobRequest: string, backend: string, agent: string, jobs: readonly JobReport[], audit?: Audited<{ cancelRequested: boolean }>): Promise<{ cancelRequested: boolean }> {
    jobs.forEach(checkJobReport);
    return this.serial(async () => {
      const held = await this.heldRequest(jobRequest, backend, agent);
      const now = this.now();
      for (const job of jobs) {
        const values: Param[] = [
          job.action,
          job.runCommand,
          job.status,
          job.statusCode,
          job.statusMessage,
          job.started,
          job.finished,
          job.exitCode,
          job.cpuSeconds ?? null,
          job.memoryBytes ?? null,
        ];
        const existing = await this.one("SELECT job_request_id FROM jobs WHERE identifier = ?", [job.identifier]);
        if (existing && Number(existing.job_request_id) !== held.id) throw new StoreError(`job ${job.identifier} belongs to another job request than ${jobRequest}`, "conflict");
        if (existing) {
          await this.db.all(
            "UPDATE jobs SET action = ?, run_command = ?, status = ?, status_code = ?, status_message = ?, started = ?, finished = ?, exit_code = ?, cpu_seconds = ?, memory_bytes = ? WHERE identifier = ?",
            [...values, job.identifier],
          );
        } else {
          await this.db.all(
            "INSERT INTO jobs (action, run_command, status, status_code, status_message, started, finished, exit_code, cpu_seconds, memory_bytes, identifier, job_request_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [...values, job.identifier, held.id, now],
          );
        }
      }
      return { cancelRequested: held.cancelRequested };
    }, true, audit);
  }

  /** Ends a request the agent holds; jobs not finished are failed with the message. */
  async finishJobRequest(jobRequest: string, backend: string, agent: string, outcome: { status: "succeeded" | "failed" | "cancelled"; message: string }, audit?: Audited<JobRequest>): Promise<JobRequest> {
    if (!["succeeded", "failed", "cancelled"].includes(outcome.status)) {
      throw new StoreError(`a job request finishes as succeeded, failed or cancelled, not ${JSON.stringify(outcome.status)}`);
    }
    return this.serial(async () => {
      const held = await this.heldRequest(jobRequest, backend, agent);
      const unfinished = (await this.db.all("SELECT action FROM jobs WHERE job_request_id = ? AND status IN ('pending', 'running') ORDER BY id", [held.id])).map((r) => String(r.action));
      // A request whose jobs did not all finish cannot have succeeded: an agent saying so is wrong, and is told.
      if (outcome.status === "succeeded" && unfinished.length > 0) {
        throw new StoreError(`job request ${jobRequest} cannot finish as succeeded: the jobs of ${unfinished.join(", ")} have not finished`, "conflict");
      }
      const now = this.now();
      const message = outcome.message !== "" ? outcome.message : outcome.status === "cancelled" ? "the job request was cancelled" : "the job request ended before this job finished";
      await this.db.all("UPDATE jobs SET status = 'failed', status_code = ?, status_message = ?, finished = ? WHERE job_request_id = ? AND status IN ('pending', 'running')", [
        outcome.status === "cancelled" ? "cancelled_by_user" : "internal_error",
        message,
        now,
        held.id,
      ]);
      await this.db.all("UPDATE job_requests SET status = ?, message = ?, finished = ? WHERE id = ?", [outcome.status, outcome.message, now, held.id]);
      return (await this.requests("id = ?", [held.id], 1))[0]!;
    }, true, audit);
  }

  /** For an agent starting again: fails every unfinished request it held (and their unfinished jobs, internal_error); returns their identifiers. */
  async recoverAgent(backend: string, agent: string, message: string, audit?: Audited<string[]>): Promise<string[]> {
    checkAgent(agent);
    return this.serial(async () => {
      const backendId = await this.backendId(backend);
      const held = "SELECT id FROM job_requests WHERE backend_id = ? AND claimed_by = ? AND status = 'running'";
      const identifiers = (await this.db.all("SELECT identifier FROM job_requests WHERE backend_id = ? AND claimed_by = ? AND status = 'running' ORDER BY id", [backendId, agent])).map((r) =>
        String(r.identifier),
      );
      if (identifiers.length === 0) return [];
      const now = this.now();
      await this.db.all(`UPDATE jobs SET status = 'failed', status_code = 'internal_error', status_message = ?, finished = ? WHERE status IN ('pending', 'running') AND job_request_id IN (${held})`, [
        message,
        now,
        backendId,
        agent,
      ]);
      await this.db.all("UPDATE job_requests SET status = 'failed', message = ?, finished = ? WHERE backend_id = ? AND claimed_by = ? AND status = 'running'", [message, now, backendId, agent]);
      return identifiers;
    }, true, audit);
  }

  /** Of these requests, those whose cancellation was asked for. */
  cancellationsFor(backend: string, identifiers: readonly string[]): Promise<string[]> {
    return this.serial(async () => {
      const out: string[] = [];
      // In slices, to stay well within every database's limit on parameters.
      for (let i = 0; i < identifiers.length; i += 500) {
        const slice = identifiers.slice(i, i + 500);
        const rows = await this.db.all(
          `SELECT r.identifier FROM job_requests r JOIN backends b ON b.id = r.backend_id WHERE b.name = ? AND r.cancel_requested = 1 AND r.status = 'running' AND r.identifier IN (${slice.map(() => "?").join(", ")}) ORDER BY r.id`,
          [backend, ...slice],
        );
        out.push(...rows.map((r) => String(r.identifier)));
      }
      return out;
    });
  }

  // --- releases -----------------------------------------------------------------

  /**
   * Stores a release's list, or finds the one stored for the same request of
   * the same backend: `created` says which. The same request with another
   * workspace or another list (names, sizes and hashes; the dates are not
   * compared, as they say nothing about the bytes) is a conflict, so a request
   * is released once, with one content. `refuseNew`, when given, is why no new
   * release may start (the workspace is archived, say): a conflict, while the
   * list of a release already started is still found.
   */
  async createRelease(input: NewRelease, options: { refuseNew?: string } = {}, audit?: Audited<{ release: Release; created: boolean }>): Promise<{ release: Release; created: boolean }> {
    if (input.files.length === 0) throw new StoreError(`the release of request ${input.request} lists no files`);
    const names = new Set<string>();
    for (const f of input.files) {
      if (names.has(f.name)) throw new StoreError(`the release of request ${input.request} lists ${JSON.stringify(f.name)} twice`);
      names.add(f.name);
      if (!Number.isSafeInteger(f.size) || f.size < 0) throw new StoreError(`${JSON.stringify(f.name)}: a size is a whole number of bytes, not ${JSON.stringify(f.size)}`);
      if (!SHA256.test(f.sha256)) throw new StoreError(`${JSON.stringify(f.name)}: a sha256 is 64 lower-case hex digits, not ${JSON.stringify(f.sha256)}`);
    }
    return this.serial(async () => {
      const ws = await this.one("SELECT id FROM workspaces WHERE name = ?", [input.workspace]);
      if (!ws) throw new StoreError(`there is no workspace named ${input.workspace}`, "not_found");
      const backendId = await this.backendId(input.backend);
      const existing = await this.one("SELECT id FROM releases WHERE backend_id = ? AND airlock_request = ?", [backendId, input.request]);
      if (existing) {
        const release = (await this.releases("r.id = ?", [Number(existing.id)]))[0]!;
        const difference = releaseDifference(release, input);
        if (difference) throw new StoreError(`request ${input.request} of backend ${input.backend} was already sent as release ${release.id}, ${difference}: a request is released once`, "conflict");
        return { release, created: false };
      }
      if (options.refuseNew !== undefined) throw new StoreError(options.refuseNew, "conflict");
      const identifier = randomBytes(8).toString("hex");
      const row = await this.one("INSERT INTO releases (identifier, workspace_id, backend_id, airlock_request, released_by, created) VALUES (?, ?, ?, ?, ?, ?) RETURNING id", [
        identifier,
        Number(ws.id),
        backendId,
        input.request,
        input.releasedBy,
        this.now(),
      ]);
      const id = Number(row!.id);
      for (const f of input.files) await this.db.all("INSERT INTO released_files (release_id, name, size, sha256, file_date) VALUES (?, ?, ?, ?, ?)", [id, f.name, f.size, f.sha256, f.date]);
      return { release: (await this.releases("r.id = ?", [id]))[0]!, created: true };
    }, true, audit);
  }

  getRelease(identifier: string): Promise<Release | undefined> {
    return this.serial(async () => (await this.releases("r.identifier = ?", [identifier]))[0]);
  }

  /**
   * Records that a file's bytes are in the releases folder at `stored` (the
   * caller has checked them against the list). Receiving a file again changes
   * nothing. `completed` is true for the one call that received the release's
   * last file.
   */
  receiveReleaseFile(identifier: string, name: string, stored: string, audit?: Audited<{ release: Release; file: ReleaseFile; received: boolean; completed: boolean }>): Promise<{ release: Release; file: ReleaseFile; received: boolean; completed: boolean }> {
    return this.serial(async () => {
      const r = await this.one("SELECT id FROM releases WHERE identifier = ?", [identifier]);
      if (!r) throw new StoreError(`there is no release ${identifier}`, "not_found");
      const id = Number(r.id);
      const now = this.now();
      const marked = await this.db.all("UPDATE released_files SET received = ?, stored = ? WHERE release_id = ? AND name = ? AND received IS NULL RETURNING id", [now, stored, id, name]);
      const missing = Number((await this.one("SELECT COUNT(*) AS n FROM released_files WHERE release_id = ? AND received IS NULL", [id]))!.n);
      const completed = missing === 0 ? await this.db.all("UPDATE releases SET completed = ? WHERE id = ? AND completed IS NULL RETURNING id", [now, id]) : [];
      const release = (await this.releases("r.id = ?", [id]))[0]!;
      const file = release.files.find((f) => f.name === name);
      if (!file) throw new StoreError(`release ${identifier} has no file named ${JSON.stringify(name)}`, "not_found");
      return { release, file, received: marked.length > 0, completed: completed.length > 0 };
    }, true, audit);
  }

  /** The files of a workspace's complete releases, the latest release first. */
  listReleasedFiles(workspace: string): Promise<ReleasedFile[]> {
    return this.serial(async () => {
      const rows = await this.db.all(
        `SELECT r.identifier, r.airlock_request, w.name AS workspace, r.released_by, r.completed, f.name, f.size, f.sha256, f.file_date, f.stored
         FROM releases r JOIN workspaces w ON w.id = r.workspace_id JOIN released_files f ON f.release_id = r.id
         WHERE w.name = ? AND r.completed IS NOT NULL
         ORDER BY r.completed DESC, r.id DESC, f.name`,
        [workspace],
      );
      return rows.map((row) => ({
        release: String(row.identifier),
        request: String(row.airlock_request),
        workspace: String(row.workspace),
        releasedBy: String(row.released_by),
        released: String(row.completed),
        name: String(row.name),
        size: Number(row.size),
        sha256: String(row.sha256),
        date: String(row.file_date),
        stored: String(row.stored),
      }));
    });
  }

  /** Releases with their files, by a condition on `r` (releases). */
  private async releases(where: string, params: readonly Param[]): Promise<Release[]> {
    const rows = await this.db.all(
      `SELECT r.id, r.identifier, w.name AS workspace, p.number AS project, b.name AS backend, r.airlock_request, r.released_by, r.created, r.completed
       FROM releases r JOIN workspaces w ON w.id = r.workspace_id JOIN projects p ON p.id = w.project_id JOIN backends b ON b.id = r.backend_id
       WHERE ${where} ORDER BY r.id`,
      params,
    );
    const out: Release[] = [];
    for (const row of rows) {
      const files = await this.db.all("SELECT name, size, sha256, file_date, received, stored FROM released_files WHERE release_id = ? ORDER BY id", [Number(row.id)]);
      out.push({
        id: String(row.identifier),
        workspace: String(row.workspace),
        project: Number(row.project),
        backend: String(row.backend),
        request: String(row.airlock_request),
        releasedBy: String(row.released_by),
        created: String(row.created),
        completed: text(row.completed),
        files: files.map((f) => ({ name: String(f.name), size: Number(f.size), sha256: String(f.sha256), date: String(f.file_date), received: text(f.received), stored: text(f.stored) })),
      });
    }
    return out;
  }

  // --- publish requests ---------------------------------------------------------------

  /**
   * Stores a pending request to publish files of the workspace's complete
   * releases. Each file is named by its release and name; two files of one
   * name (from two releases) would land at one path in the repository, so
   * only one of them may be asked for. A restricted workspace takes none.
   */
  async createPublishRequest(input: NewPublishRequest, audit?: Audited<PublishRequest>): Promise<PublishRequest> {
    const note = input.note ?? "";
    if (note.length > MAX_NOTE) throw new StoreError(`a publish request's note has at most ${MAX_NOTE} characters, not ${note.length}`);
    if (input.files.length === 0) throw new StoreError("a publish request names at least one released file: choose the files to publish");
    if (input.files.length > MAX_PUBLISH_FILES) throw new StoreError(`a publish request names at most ${MAX_PUBLISH_FILES} files, not ${input.files.length}`);
    const byName = new Map<string, string>();
    for (const f of input.files) {
      const other = byName.get(f.name);
      if (other === f.release) throw new StoreError(`${JSON.stringify(f.name)} of release ${f.release} is named twice`);
      if (other !== undefined) throw new StoreError(`${JSON.stringify(f.name)} is named from releases ${other} and ${f.release}: both would be published at one path; choose one`);
      byName.set(f.name, f.release);
    }
    return this.serial(async () => {
      const ws = await this.one("SELECT id FROM workspaces WHERE name = ?", [input.workspace]);
      if (!ws) throw new StoreError(`there is no workspace named ${input.workspace}`, "not_found");
      const incident = await this.openIncidentOf(Number(ws.id));
      if (incident) throw new StoreError(restrictedMessage(input.workspace, incident, "nothing is published from it"), "conflict");
      const requesterId = await this.userId(input.requester);
      const fileIds: number[] = [];
      for (const f of input.files) {
        const row = await this.one(
          "SELECT f.id FROM released_files f JOIN releases r ON r.id = f.release_id WHERE r.identifier = ? AND f.name = ? AND r.workspace_id = ? AND r.completed IS NOT NULL",
          [f.release, f.name, Number(ws.id)],
        );
        if (!row) throw new StoreError(`workspace ${input.workspace} has no released file ${JSON.stringify(f.name)} in release ${f.release} (only files of complete releases can be published)`, "not_found");
        fileIds.push(Number(row.id));
      }
      const identifier = randomBytes(8).toString("hex");
      const id = Number((await this.one("INSERT INTO publish_requests (identifier, workspace_id, requester_id, note, created) VALUES (?, ?, ?, ?, ?) RETURNING id", [identifier, Number(ws.id), requesterId, note, this.now()]))!.id);
      for (const fileId of fileIds) await this.db.all("INSERT INTO publish_request_files (publish_request_id, released_file_id) VALUES (?, ?)", [id, fileId]);
      return (await this.publishRequests("q.id = ?", [id], 1))[0]!;
    }, true, audit);
  }

  getPublishRequest(identifier: string): Promise<PublishRequest | undefined> {
    return this.serial(async () => (await this.publishRequests("q.identifier = ?", [identifier], 1))[0]);
  }

  /** Newest first, at most `limit`. */
  async listPublishRequests(filter: PublishRequestFilter = {}, limit = MAX_PAGE): Promise<PublishRequest[]> {
    if (filter.status !== undefined && !PUBLISH_STATUSES.includes(filter.status)) throw new StoreError(`unknown status ${JSON.stringify(filter.status)}: a publish request is ${PUBLISH_STATUSES.join(", ")}`);
    const { where, params } = whereOf([filter.status !== undefined && ["q.status = ?", filter.status], filter.workspace !== undefined && ["w.name = ?", filter.workspace]]);
    return this.serial(() => this.publishRequests(where, params, limit));
  }

  /** Approves or rejects a pending request. Whether `by` may is api.ts's to decide; an approval for a restricted workspace is refused here. */
  decidePublishRequest(identifier: string, decision: { status: "approved" | "rejected"; by: string; note?: string }, audit?: Audited<PublishRequest>): Promise<PublishRequest> {
    const note = decision.note ?? "";
    if (note.length > MAX_NOTE) throw new StoreError(`a decision's note has at most ${MAX_NOTE} characters, not ${note.length}`);
    return this.serial(async () => {
      const row = await this.publishRequestRow(identifier);
      checkPublishTransition(identifier, row.status, decision.status);
      if (decision.status === "approved") await this.refuseIfRestricted(row.workspaceId, row.workspace, "nothing is published from it");
      const by = await this.userId(decision.by);
      const changed = await this.db.all("UPDATE publish_requests SET status = ?, decided_by_id = ?, decided = ?, decision_note = ? WHERE id = ? AND status = ? RETURNING id", [
        decision.status,
        by,
        this.now(),
        note,
        row.id,
        row.status,
      ]);
      if (changed.length === 0) throw new StoreError(`publish request ${identifier} changed while it was being decided: look at it again`, "conflict");
      return (await this.publishRequests("q.id = ?", [row.id], 1))[0]!;
    }, true, audit);
  }

  /** Records the commit an approved request was published in (by `enclave publish`). */
  markPublishRequestPublished(identifier: string, published: { commit: string; repo: string; branch: string; by: string }, audit?: Audited<PublishRequest>): Promise<PublishRequest> {
    if (!COMMIT.test(published.commit)) throw new StoreError(`a publish request is published in a commit (40 or 64 lower-case hex digits), not ${JSON.stringify(published.commit)}`);
    return this.serial(async () => {
      const row = await this.publishRequestRow(identifier);
      checkPublishTransition(identifier, row.status, "published");
      await this.refuseIfRestricted(row.workspaceId, row.workspace, "nothing is published from it");
      const changed = await this.db.all(
        "UPDATE publish_requests SET status = 'published', published = ?, published_by = ?, commit_sha = ?, published_repo = ?, published_branch = ? WHERE id = ? AND status = 'approved' RETURNING id",
        [this.now(), published.by, published.commit, published.repo, published.branch, row.id],
      );
      if (changed.length === 0) throw new StoreError(`publish request ${identifier} changed while it was being published: look at it again`, "conflict");
      return (await this.publishRequests("q.id = ?", [row.id], 1))[0]!;
    }, true, audit);
  }

  private async publishRequestRow(identifier: string): Promise<{ id: number; status: PublishStatus; workspaceId: number; workspace: string }> {
    const r = await this.one("SELECT q.id, q.status, q.workspace_id, w.name FROM publish_requests q JOIN workspaces w ON w.id = q.workspace_id WHERE q.identifier = ?", [identifier]);
    if (!r) throw new StoreError(`there is no publish request ${identifier}`, "not_found");
    return { id: Number(r.id), status: r.status as PublishStatus, workspaceId: Number(r.workspace_id), workspace: String(r.name) };
  }

  private async publishRequests(where: string, params: readonly Param[], limit: number): Promise<PublishRequest[]> {
    const rows = await this.db.all(
      `SELECT q.id, q.identifier, w.name AS workspace, p.number AS project, u.username AS requester, q.note, q.created, q.status,
              d.username AS decided_by, q.decided, q.decision_note, q.published, q.published_by, q.commit_sha, q.published_repo, q.published_branch
       FROM publish_requests q JOIN workspaces w ON w.id = q.workspace_id JOIN projects p ON p.id = w.project_id
       JOIN users u ON u.id = q.requester_id LEFT JOIN users d ON d.id = q.decided_by_id
       WHERE ${where} ORDER BY q.id DESC LIMIT ?`,
      [...params, limit],
    );
    const out: PublishRequest[] = [];
    for (const row of rows) {
      const files = await this.db.all(
        `SELECT r.identifier, r.airlock_request, r.released_by, r.completed, f.name, f.size, f.sha256, f.stored
         FROM publish_request_files x JOIN released_files f ON f.id = x.released_file_id JOIN releases r ON r.id = f.release_id
         WHERE x.publish_request_id = ? ORDER BY f.name, r.identifier`,
        [Number(row.id)],
      );
      out.push({
        id: String(row.identifier),
        workspace: String(row.workspace),
        project: Number(row.project),
        requester: String(row.requester),
        note: String(row.note),
        created: String(row.created),
        status: row.status as PublishStatus,
        decidedBy: text(row.decided_by),
        decided: text(row.decided),
        decisionNote: String(row.decision_note),
        published: text(row.published),
        publishedBy: text(row.published_by),
        commit: text(row.commit_sha),
        repo: text(row.published_repo),
        branch: text(row.published_branch),
        files: files.map((f) => ({
          release: String(f.identifier),
          request: String(f.airlock_request),
          name: String(f.name),
          size: Number(f.size),
          sha256: String(f.sha256),
          releasedBy: String(f.released_by),
          released: String(f.completed),
          stored: String(f.stored),
        })),
      });
    }
    return out;
  }

  // --- incidents ---------------------------------------------------------------------

  /** Opens an incident for the workspace, which is restricted from now until every incident of it is closed. */
  openIncident(input: NewIncident, audit?: Audited<Incident>): Promise<Incident> {
    if (input.repo.trim() === "") throw new StoreError("an incident names the repository that was cleaned");
    if (input.openedBy.trim() === "") throw new StoreError("an incident names who opened it");
    return this.serial(async () => {
      const ws = await this.one("SELECT id FROM workspaces WHERE name = ?", [input.workspace]);
      if (!ws) throw new StoreError(`there is no workspace named ${input.workspace}`, "not_found");
      const identifier = randomBytes(8).toString("hex");
      const blobs = input.blobs.map((b) => ({ id: b.id, size: b.size, paths: [...b.paths] }));
      const id = Number(
        (await this.one("INSERT INTO incidents (identifier, workspace_id, repo, blobs, refs_rewritten, refs_deleted, opened_by, opened) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", [
          identifier,
          Number(ws.id),
          input.repo,
          JSON.stringify(blobs),
          JSON.stringify([...input.refsRewritten]),
          JSON.stringify([...input.refsDeleted]),
          input.openedBy,
          this.now(),
        ]))!.id,
      );
      return (await this.incidents("i.id = ?", [id]))[0]!;
    }, true, audit);
  }

  getIncident(identifier: string): Promise<Incident | undefined> {
    return this.serial(async () => (await this.incidents("i.identifier = ?", [identifier]))[0]);
  }

  /** Newest first; `open` keeps those not closed (true) or only closed ones (false). */
  listIncidents(filter: { open?: boolean; workspace?: string } = {}): Promise<Incident[]> {
    const { where, params } = whereOf([filter.open !== undefined && [filter.open ? "i.closed IS NULL" : "i.closed IS NOT NULL"], filter.workspace !== undefined && ["w.name = ?", filter.workspace]]);
    return this.serial(() => this.incidents(where, params));
  }

  /** Closes an open incident with a note saying what was done; the workspace is no longer restricted once none is open. */
  closeIncident(identifier: string, close: { by: string; note: string }, audit?: Audited<Incident>): Promise<Incident> {
    if (close.note.trim() === "") throw new StoreError("closing an incident needs a note: say what was done (the copies cleaned, who was told)");
    if (close.note.length > MAX_NOTE) throw new StoreError(`an incident's closing note has at most ${MAX_NOTE} characters, not ${close.note.length}`);
    return this.serial(async () => {
      const r = await this.one("SELECT id, closed FROM incidents WHERE identifier = ?", [identifier]);
      if (!r) throw new StoreError(`there is no incident ${identifier}`, "not_found");
      if (r.closed != null) throw new StoreError(`incident ${identifier} was closed already, on ${String(r.closed)}`, "conflict");
      const by = await this.userId(close.by);
      await this.db.all("UPDATE incidents SET closed_by_id = ?, closed = ?, close_note = ? WHERE id = ? AND closed IS NULL", [by, this.now(), close.note.trim(), Number(r.id)]);
      return (await this.incidents("i.id = ?", [Number(r.id)]))[0]!;
    }, true, audit);
  }

  /** The oldest open incident of a workspace (by its row), if any. */
  private async openIncidentOf(workspaceId: number): Promise<{ id: string; opened: string } | undefined> {
    const r = await this.one("SELECT identifier, opened FROM incidents WHERE workspace_id = ? AND closed IS NULL ORDER BY id LIMIT 1", [workspaceId]);
    return r && { id: String(r.identifier), opened: String(r.opened) };
  }

  private async refuseIfRestricted(workspaceId: number, workspace: string, refused: string): Promise<void> {
    const incident = await this.openIncidentOf(workspaceId);
    if (incident) throw new StoreError(restrictedMessage(workspace, incident, refused), "conflict");
  }

  private async incidents(where: string, params: readonly Param[]): Promise<Incident[]> {
    const rows = await this.db.all(
      `SELECT i.identifier, w.name AS workspace, p.number AS project, i.repo, i.blobs, i.refs_rewritten, i.refs_deleted, i.opened_by, i.opened, u.username AS closed_by, i.closed, i.close_note
       FROM incidents i JOIN workspaces w ON w.id = i.workspace_id JOIN projects p ON p.id = w.project_id LEFT JOIN users u ON u.id = i.closed_by_id
       WHERE ${where} ORDER BY i.id DESC`,
      params,
    );
    return rows.map((r) => ({
      id: String(r.identifier),
      workspace: String(r.workspace),
      project: Number(r.project),
      repo: String(r.repo),
      blobs: JSON.parse(String(r.blobs)) as IncidentBlob[],
      refsRewritten: JSON.parse(String(r.refs_rewritten)) as string[],
      refsDeleted: JSON.parse(String(r.refs_deleted)) as string[],
      openedBy: String(r.opened_by),
      opened: String(r.opened),
      closedBy: text(r.closed_by),
      closed: text(r.closed),
      closeNote: text(r.close_note),
    }));
  }

  private async backendId(name: string): Promise<number> {
    const r = await this.one("SELECT id FROM backends WHERE name = ?", [name]);
    if (!r) throw new StoreError(`there is no backend named ${name}`, "not_found");
    return Number(r.id);
  }

  /** The request, if this agent of this backend holds it and it has not finished; a StoreError saying why not otherwise. */
  private async heldRequest(identifier: string, backend: string, agent: string): Promise<{ id: number; cancelRequested: boolean }> {
    const r = await this.one("SELECT r.id, r.status, r.claimed_by, r.cancel_requested FROM job_requests r JOIN backends b ON b.id = r.backend_id WHERE r.identifier = ? AND b.name = ?", [identifier, backend]);
    if (!r) throw new StoreError(`there is no job request ${identifier} for backend ${backend}`, "not_found");
    if (r.claimed_by !== agent) {
      if (r.claimed_by != null) throw new StoreError(`job request ${identifier} is held by agent ${String(r.claimed_by)}, not ${agent}`, "conflict");
      if (r.status === "pending") throw new StoreError(`job request ${identifier} has not been claimed: an agent claims a request before it reports on it`, "conflict");
    }
    if (r.status !== "running") throw new StoreError(`job request ${identifier} has already finished (${String(r.status)})`, "conflict");
    return { id: Number(r.id), cancelRequested: Number(r.cancel_requested) === 1 };
  }

  /**
   * A page of requests, newest first, with their job counts. The page is chosen
   * first (from an index on the filter's column and id), then only its jobs are
   * counted, in one grouped query.
   */
  private async requests(where: string, params: readonly Param[], limit: number): Promise<JobRequest[]> {
    // The page is cut first (a derived table with LIMIT, which neither database
    // flattens into the joins), then each of its rows counts its own jobs by
    // index: the cost stays that of one page however many requests there are.
    const rows = await this.db.all(
      `SELECT r.id, r.identifier, w.name AS workspace, p.number AS project, p.name AS project_name, b.name AS backend, r.commit_sha,
              r.requested_actions, r.force_run_dependencies, u.username AS requester, r.created, r.status, r.message,
              r.claimed_by, r.claimed_at, r.cancel_requested, r.finished,
              (SELECT COUNT(*) FROM jobs j WHERE j.job_request_id = r.id AND j.status IN ('succeeded', 'failed')) AS done,
              (SELECT COUNT(*) FROM jobs j WHERE j.job_request_id = r.id) AS total,
              (SELECT MIN(j.started) FROM jobs j WHERE j.job_request_id = r.id) AS started
       FROM (SELECT * FROM job_requests WHERE ${where} ORDER BY id DESC LIMIT ?) r
       JOIN workspaces w ON w.id = r.workspace_id
       JOIN projects p ON p.id = w.project_id
       JOIN backends b ON b.id = r.backend_id
       JOIN users u ON u.id = r.requester_id
       ORDER BY r.id DESC`,
      [...params, limit],
    );
    return rows.map(toJobRequest);
  }
}

const MAX_PAGE = 1000;
const MAX_NOTE = 2000;
const MAX_PUBLISH_FILES = 1000;
const SHA256 = /^[0-9a-f]{64}$/;

/** How a list sent again differs from the release stored for its request, or undefined if it does not. */
function releaseDifference(release: Release, input: NewRelease): string | undefined {
  if (release.workspace !== input.workspace) return `for workspace ${release.workspace}, not ${input.workspace}`;
  const before = new Map(release.files.map((f) => [f.name, f]));
  const now = new Map(input.files.map((f) => [f.name, f]));
  const quoted = (names: string[]): string => names.map((n) => JSON.stringify(n)).join(", ");
  const added = [...now.keys()].filter((n) => !before.has(n));
  const leftOut = [...before.keys()].filter((n) => !now.has(n));
  const changed = [...now.values()].filter((f) => before.has(f.name) && (before.get(f.name)!.size !== f.size || before.get(f.name)!.sha256 !== f.sha256)).map((f) => f.name);
  const parts: string[] = [];
  if (added.length > 0) parts.push(`added: ${quoted(added)}`);
  if (leftOut.length > 0) parts.push(`left out: ${quoted(leftOut)}`);
  if (changed.length > 0) parts.push(`other size or sha256: ${quoted(changed)}`);
  return parts.length === 0 ? undefined : `with another list of files (${parts.join("; ")})`;
}
const COMMIT = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;
const JOB_IDENTIFIER = /^[0-9a-f]{16}$/;

const WORKSPACE_SELECT =
  "SELECT w.id, p.number, w.name, w.repo, w.branch, w.archived, w.created, (SELECT COUNT(*) FROM incidents i WHERE i.workspace_id = w.id AND i.closed IS NULL) AS open_incidents FROM workspaces w JOIN projects p ON p.id = w.project_id";
const toWorkspace = (r: Row): Workspace => ({
  id: Number(r.id),
  project: Number(r.number),
  name: String(r.name),
  repo: String(r.repo),
  branch: String(r.branch),
  archived: Number(r.archived) === 1,
  restricted: Number(r.open_incidents) > 0,
  created: String(r.created),
});

const text = (v: unknown): string | null => (v == null ? null : String(v));
const number = (v: unknown): number | null => (v == null ? null : Number(v));

function toJobRequest(r: Row): JobRequest {
  return {
    identifier: String(r.identifier),
    workspace: String(r.workspace),
    project: Number(r.project),
    projectName: String(r.project_name),
    backend: String(r.backend),
    commit: String(r.commit_sha),
    actions: JSON.parse(String(r.requested_actions)) as string[],
    force: Number(r.force_run_dependencies) === 1,
    requester: String(r.requester),
    created: String(r.created),
    status: r.status as RequestStatus,
    message: String(r.message),
    claimedBy: text(r.claimed_by),
    claimedAt: text(r.claimed_at),
    cancelRequested: Number(r.cancel_requested) === 1,
    started: text(r.started),
    finished: text(r.finished),
    jobsDone: Number(r.done ?? 0),
    jobsTotal: Number(r.total ?? 0),
  };
}

const JOB_SELECT =
  "SELECT j.identifier, r.identifier AS job_request, j.action, j.run_command, j.status, j.status_code, j.status_message, j.created, j.started, j.finished, j.exit_code, j.cpu_seconds, j.memory_bytes FROM jobs j JOIN job_requests r ON r.id = j.job_request_id";

function toJob(r: Row): Job {
  return {
    identifier: String(r.identifier),
    jobRequest: String(r.job_request),
    action: String(r.action),
    runCommand: String(r.run_command),
    status: r.status as JobStatus,
    statusCode: String(r.status_code),
    statusMessage: String(r.status_message),
    created: String(r.created),
    started: text(r.started),
    finished: text(r.finished),
    exitCode: number(r.exit_code),
    cpuSeconds: number(r.cpu_seconds),
    memoryBytes: number(r.memory_bytes),
  };
}

/** The WHERE clause (on job_requests, unqualified) for a filter; a name that matches nothing matches no request. */
function requestFilter(filter: JobRequestFilter): { where: string; params: Param[] } {
  if (filter.status !== undefined && !REQUEST_STATUSES.includes(filter.status)) throw new StoreError(`unknown status ${JSON.stringify(filter.status)}: a job request is ${REQUEST_STATUSES.join(", ")}`);
  return whereOf([
    filter.workspace !== undefined && ["workspace_id = (SELECT id FROM workspaces WHERE name = ?)", filter.workspace],
    filter.project !== undefined && ["project_id = (SELECT id FROM projects WHERE number = ?)", filter.project],
    filter.backend !== undefined && ["backend_id = (SELECT id FROM backends WHERE name = ?)", filter.backend],
    filter.requester !== undefined && ["requester_id = (SELECT id FROM users WHERE username = ?)", filter.requester],
    filter.status !== undefined && ["status = ?", filter.status],
  ]);
}

function checkAgent(agent: string): void {
  if (typeof agent !== "string" || !USERNAME.test(agent)) throw new StoreError(`${JSON.stringify(agent)} is not an agent name: use letters, digits, '.', '_' and '-' (up to 64)`);
}

function checkJobReport(job: JobReport): void {
  const bad = (what: string) => new StoreError(`job ${JSON.stringify(job.identifier)}: ${what}`);
  if (typeof job.identifier !== "string" || !JOB_IDENTIFIER.test(job.identifier)) throw bad("a job identifier is 16 lower-case hex digits");
  if (typeof job.action !== "string" || job.action === "") throw bad("the action is missing");
  if (typeof job.runCommand !== "string") throw bad("runCommand must be text");
  if (!JOB_STATUSES.includes(job.status)) throw bad(`unknown status ${JSON.stringify(job.status)}: a job is ${JOB_STATUSES.join(", ")}`);
  if (typeof job.statusCode !== "string" || typeof job.statusMessage !== "string") throw bad("statusCode and statusMessage must be text");
  for (const [name, v] of [["started", job.started], ["finished", job.finished]] as const) {
    if (v !== null && (typeof v !== "string" || Number.isNaN(Date.parse(v)))) throw bad(`${name} must be a time (ISO 8601) or null`);
  }
  if (job.exitCode !== null && !Number.isSafeInteger(job.exitCode)) throw bad("exitCode must be a whole number or null");
  for (const [name, v] of [["cpuSeconds", job.cpuSeconds], ["memoryBytes", job.memoryBytes]] as const) {
    if (v != null && (typeof v !== "number" || !Number.isFinite(v) || v < 0)) throw bad(`${name} must be a number of 0 or more, or null`);
  }
}

function unknownRole(role: string, valid: readonly string[]): string {
  return `unknown role ${JSON.stringify(role)}: the roles are ${valid.join(", ")}`;
}

function unknownStatus(status: string): string {
  return `unknown status ${JSON.stringify(status)}: use one of ${PROJECT_STATUSES.join(", ")}`;
}
