// The job server's state: users, orgs, projects and their members, backends,
// workspaces, job requests and jobs. An embedded SQLite file by default, or
// PostgreSQL given a postgres:// URL; the same SQL for both (see migrations.ts),
// written with `?` placeholders that become $1, $2, ... for PostgreSQL.
//
// Every function takes and returns plain objects; permission decisions are not
// made here but in permissions.ts, from the Principal that principal() loads.

import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import type pgTypes from "pg";
import { MIGRATIONS, type Migration, migrationSql } from "./migrations.js";
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

// Loaded on first use: every `enclave` command would otherwise pay for loading the drivers.
const require = createRequire(import.meta.url);
let sqliteLoaded: typeof BetterSqlite3 | undefined;
let pgLoaded: typeof pgTypes | undefined;
const sqliteApi = (): typeof BetterSqlite3 => (sqliteLoaded ??= require("better-sqlite3") as typeof BetterSqlite3);
const pgApi = (): typeof pgTypes => (pgLoaded ??= require("pg") as typeof pgTypes);

/** Bad input or a conflict the caller can fix; the message says what and how. */
export class StoreError extends Error {
  override name = "StoreError";
}

// ---------------------------------------------------------------------------
// The two databases behind one small async interface.

type Param = string | number | null;
type Row = Record<string, unknown>;

interface Db {
  readonly dialect: "sqlite" | "postgres";
  all(sql: string, params?: readonly Param[]): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  /** Runs fn in a transaction; `lock` takes the write lock first (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock). */
  transaction<T>(fn: () => Promise<T>, lock?: boolean): Promise<T>;
  close(): Promise<void>;
}

class SqliteDb implements Db {
  readonly dialect = "sqlite";
  constructor(private readonly db: BetterSqlite3.Database) {}
  async all(sql: string, params: readonly Param[] = []): Promise<Row[]> {
    const stmt = this.db.prepare(sql);
    return stmt.reader ? (stmt.all(...params) as Row[]) : (stmt.run(...params), []);
  }
  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  async transaction<T>(fn: () => Promise<T>, lock = false): Promise<T> {
    this.db.exec(lock ? "BEGIN IMMEDIATE" : "BEGIN");
    try {
      const result = await fn();
      this.db.exec("COMMIT");
      return result;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

class PostgresDb implements Db {
  readonly dialect = "postgres";
  constructor(private readonly client: pgTypes.Client) {}
  async all(sql: string, params: readonly Param[] = []): Promise<Row[]> {
    let n = 0;
    return (await this.client.query(sql.replace(/\?/g, () => `$${++n}`), params as Param[])).rows as Row[];
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  async transaction<T>(fn: () => Promise<T>, lock = false): Promise<T> {
    await this.client.query("BEGIN");
    try {
      if (lock) await this.client.query("SELECT pg_advisory_xact_lock(hashtext('enclave.jobserver.migrations'))");
      const result = await fn();
      await this.client.query("COMMIT");
      return result;
    } catch (e) {
      await this.client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }
  async close(): Promise<void> {
    await this.client.end();
  }
}

function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505";
}

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
  created: string;
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

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class Store {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly clock: () => Date,
    /** The migrations this open applied (empty when the schema was current). */
    readonly appliedMigrations: readonly number[],
  ) {}

  /** Opens (creating and migrating if need be) the store at a SQLite path, `sqlite://path`, or a postgres(ql):// URL. */
  static async open(target: string, options: OpenOptions = {}): Promise<Store> {
    let db: Db;
    if (/^postgres(ql)?:\/\//i.test(target)) {
      const client = new (pgApi().Client)({ connectionString: target });
      await client.connect();
      if (options.schema) {
        const quoted = `"${options.schema.replace(/"/g, '""')}"`;
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
        await client.query(`SET search_path TO ${quoted}`);
      }
      db = new PostgresDb(client);
    } else {
      const file = target.startsWith("sqlite://") ? target.slice("sqlite://".length) : target;
      if (file === "") throw new StoreError("the store needs a file: sqlite:///path/to/enclave.db");
      const sqlite = new (sqliteApi())(file, { timeout: 30_000 });
      if (file !== ":memory:") sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("foreign_keys = ON");
      db = new SqliteDb(sqlite);
    }
    try {
      const applied = await migrate(db);
      return new Store(db, options.clock ?? (() => new Date()), applied);
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
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
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.db.transaction(fn));
    this.queue = run.catch(() => undefined);
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
      if (isUniqueViolation(e)) throw new StoreError(duplicate);
      throw e;
    }
  }

  // --- users -----------------------------------------------------------------

  createUser(input: { username: string; password: string; fullName?: string; email?: string; isStaff?: boolean }): Promise<User> {
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
      }),
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
    if (!r) throw new StoreError(`there is no user named ${username}`);
    return Number(r.id);
  }

  /** The user, if the password is theirs; undefined otherwise (including an unknown user). */
  async checkPassword(username: string, password: string): Promise<User | undefined> {
    const r = await this.serial(() => this.one(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = ?`, [username]));
    if (!r) return undefined;
    return (await verifyPassword(password, String(r.password_hash))) ? toUser(r) : undefined;
  }

  async setPassword(username: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    await this.serial(async () => {
      await this.userId(username);
      await this.db.all("UPDATE users SET password_hash = ? WHERE username = ?", [hash, username]);
    });
  }

  /** A new API token for the user (shown once); any previous one stops working. */
  rotateApiToken(username: string): Promise<string> {
    return this.serial(async () => {
      await this.userId(username);
      const token = generateToken();
      await this.db.all("UPDATE users SET api_token_hash = ? WHERE username = ?", [hashToken(token), username]);
      return token;
    });
  }

  /** The user an API token belongs to; looked up by its hash, so the token itself is never stored. */
  userForApiToken(token: string): Promise<User | undefined> {
    return this.serial(async () => {
      const r = await this.one(`SELECT ${USER_COLUMNS} FROM users WHERE api_token_hash = ?`, [hashToken(token)]);
      return r && toUser(r);
    });
  }

  grantGlobalRole(username: string, role: GlobalRole): Promise<void> {
    if (!isGlobalRole(role)) throw new StoreError(unknownRole(role, GLOBAL_ROLES));
    return this.serial(async () => {
      const id = await this.userId(username);
      const held = await this.one("SELECT 1 AS x FROM user_roles WHERE user_id = ? AND role = ?", [id, role]);
      if (!held) await this.db.all("INSERT INTO user_roles (user_id, role) VALUES (?, ?)", [id, role]);
    });
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

  createOrg(name: string): Promise<Org> {
    if (name.trim() === "") throw new StoreError("an org needs a name");
    return this.serial(async () => {
      const id = await this.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", [name, this.now()], `an org named ${name} already exists`);
      const r = (await this.one("SELECT id, name, created FROM orgs WHERE id = ?", [id]))!;
      return { id, name: String(r.name), created: String(r.created) };
    });
  }

  listOrgs(): Promise<Org[]> {
    return this.serial(async () => (await this.db.all("SELECT id, name, created FROM orgs ORDER BY name")).map((r) => ({ id: Number(r.id), name: String(r.name), created: String(r.created) })));
  }

  createProject(input: { number: number; name: string; org: string; category?: ProjectCategory; status?: ProjectStatus }): Promise<Project> {
    const category = input.category ?? "approved";
    const status = input.status ?? "ongoing";
    if (!Number.isSafeInteger(input.number) || input.number <= 0) throw new StoreError(`a project number is a positive whole number, not ${JSON.stringify(input.number)}`);
    if (input.name.trim() === "") throw new StoreError("a project needs a name");
    if (!PROJECT_CATEGORIES.includes(category)) throw new StoreError(`unknown category ${JSON.stringify(category)}: use one of ${PROJECT_CATEGORIES.map((c) => JSON.stringify(c)).join(", ")}`);
    if (!PROJECT_STATUSES.includes(status)) throw new StoreError(unknownStatus(status));
    return this.serial(async () => {
      const org = await this.one("SELECT id FROM orgs WHERE name = ?", [input.org]);
      if (!org) throw new StoreError(`there is no org named ${input.org}`);
      await this.insert(
        "INSERT INTO projects (number, name, org_id, status, category, created) VALUES (?, ?, ?, ?, ?, ?)",
        [input.number, input.name, Number(org.id), status, category, this.now()],
        `project ${input.number} already exists`,
      );
      return toProject((await this.one(`${PROJECT_SELECT} WHERE p.number = ?`, [input.number]))!);
    });
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
    if (!r) throw new StoreError(`there is no project ${number}`);
    return Number(r.id);
  }

  /** Sets the status and returns the one it had. Members' job running and level 4 access follow at once, through `can`. */
  setProjectStatus(number: number, status: ProjectStatus): Promise<{ previous: ProjectStatus; project: Project }> {
    if (!PROJECT_STATUSES.includes(status)) throw new StoreError(unknownStatus(status));
    return this.serial(async () => {
      const before = await this.one("SELECT status FROM projects WHERE number = ?", [number]);
      if (!before) throw new StoreError(`there is no project ${number}`);
      await this.db.all("UPDATE projects SET status = ? WHERE number = ?", [status, number]);
      return { previous: before.status as ProjectStatus, project: toProject((await this.one(`${PROJECT_SELECT} WHERE p.number = ?`, [number]))!) };
    });
  }

  // --- memberships ------------------------------------------------------------

  /** Makes the user a member of the project (if not already) with these roles added; returns the membership. */
  addMember(project: number, username: string, roles: readonly ProjectRole[]): Promise<Membership> {
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
    });
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
  createBackend(name: string): Promise<{ backend: Backend; token: string }> {
    if (!USERNAME.test(name)) throw new StoreError(`${JSON.stringify(name)} is not a backend name: use letters, digits, '.', '_' and '-'`);
    return this.serial(async () => {
      const token = generateToken();
      const id = await this.insert("INSERT INTO backends (name, token_hash, created) VALUES (?, ?, ?)", [name, hashToken(token), this.now()], `a backend named ${name} already exists`);
      return { backend: toBackend((await this.one("SELECT id, name, created, token_rotated FROM backends WHERE id = ?", [id]))!), token };
    });
  }

  /** A new token for the backend; the old one stops working at once. */
  rotateBackendToken(name: string): Promise<string> {
    return this.serial(async () => {
      const token = generateToken();
      const r = await this.one("UPDATE backends SET token_hash = ?, token_rotated = ? WHERE name = ? RETURNING id", [hashToken(token), this.now(), name]);
      if (!r) throw new StoreError(`there is no backend named ${name}`);
      return token;
    });
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

  addBackendMember(backend: string, username: string): Promise<void> {
    return this.serial(async () => {
      const b = await this.one("SELECT id FROM backends WHERE name = ?", [backend]);
      if (!b) throw new StoreError(`there is no backend named ${backend}`);
      const userId = await this.userId(username);
      const held = await this.one("SELECT 1 AS x FROM backend_memberships WHERE user_id = ? AND backend_id = ?", [userId, Number(b.id)]);
      if (!held) await this.db.all("INSERT INTO backend_memberships (user_id, backend_id, created) VALUES (?, ?, ?)", [userId, Number(b.id), this.now()]);
    });
  }

  /** The backends the user may run jobs on. */
  userBackends(username: string): Promise<string[]> {
    return this.serial(async () => {
      const userId = await this.userId(username);
      return (await this.db.all("SELECT b.name FROM backend_memberships bm JOIN backends b ON b.id = bm.backend_id WHERE bm.user_id = ? ORDER BY b.name", [userId])).map((r) => String(r.name));
    });
  }

  // --- workspaces ---------------------------------------------------------------

  createWorkspace(input: { project: number; name: string; repo: string; branch: string }): Promise<Workspace> {
    if (!USERNAME.test(input.name)) throw new StoreError(`${JSON.stringify(input.name)} is not a workspace name: use letters, digits, '.', '_' and '-'`);
    if (input.repo.trim() === "" || input.branch.trim() === "") throw new StoreError("a workspace needs a repository and a branch");
    return this.serial(async () => {
      const projectId = await this.projectId(input.project);
      const id = await this.insert("INSERT INTO workspaces (project_id, name, repo, branch, created) VALUES (?, ?, ?, ?, ?)", [projectId, input.name, input.repo, input.branch, this.now()], `a workspace named ${input.name} already exists`);
      return this.workspaceById(id);
    });
  }

  private async workspaceById(id: number): Promise<Workspace> {
    const r = (await this.one("SELECT w.id, p.number, w.name, w.repo, w.branch, w.archived, w.created FROM workspaces w JOIN projects p ON p.id = w.project_id WHERE w.id = ?", [id]))!;
    return { id, project: Number(r.number), name: String(r.name), repo: String(r.repo), branch: String(r.branch), archived: Number(r.archived) === 1, created: String(r.created) };
  }

  setWorkspaceArchived(name: string, archived: boolean): Promise<Workspace> {
    return this.serial(async () => {
      const r = await this.one("UPDATE workspaces SET archived = ? WHERE name = ? RETURNING id", [archived ? 1 : 0, name]);
      if (!r) throw new StoreError(`there is no workspace named ${name}`);
      return this.workspaceById(Number(r.id));
    });
  }
}

async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)");
  const applied: number[] = [];
  for (const m of migrations) {
    // Checked again under the lock: another process may have applied it meanwhile.
    const done = await db.transaction(async () => {
      if ((await db.all("SELECT 1 AS x FROM schema_migrations WHERE version = ?", [m.version])).length > 0) return true;
      await db.exec(migrationSql(m, db.dialect));
      await db.all("INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)", [m.version, m.name, new Date().toISOString()]);
      return false;
    }, true);
    if (!done) applied.push(m.version);
  }
  return applied;
}

function unknownRole(role: string, valid: readonly string[]): string {
  return `unknown role ${JSON.stringify(role)}: the roles are ${valid.join(", ")}`;
}

function unknownStatus(status: string): string {
  return `unknown status ${JSON.stringify(status)}: use one of ${PROJECT_STATUSES.join(", ")}`;
}
