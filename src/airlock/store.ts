// The airlock's state: requests, file groups, files (the request's copies, by
// sha256, with their automated check), votes, submitted reviews, comments and
// events. An embedded SQLite file by default, PostgreSQL given a postgres://
// URL, through the numbered migrations of migrations.ts.
//
// The store decides nothing: service.ts loads a request whole (aggregate),
// judges it with workflow.ts and rules.ts, and writes the outcome through an
// AirlockTx, all inside one write transaction. Write transactions take the
// write lock first, so two processes (the web service and the uploader) never
// both judge the same state.

import type { JsonObject } from "../audit/index.js";
import { type Db, type Param, type Row, isUniqueViolation, openMigrated, whereOf } from "../jobserver/db.js";
import { RuleViolation } from "./errors.js";
import { MIGRATIONS, MIGRATIONS_TABLE } from "./migrations.js";
import type { CheckVerdict, Comment, FileGroup, FileKind, ReleaseRequest, RequestAggregate, RequestFile, ReviewSubmission, Visibility, Vote, VoteValue } from "./model.js";
import type { AuditEvent, RequestStatus } from "./workflow.js";

export interface AirlockEvent {
  id: number;
  request: number | null;
  type: AuditEvent;
  username: string;
  workspace: string;
  path: string | null;
  visibility: Visibility;
  turn: number;
  details: JsonObject;
  created: string;
}

export type NewEvent = Omit<AirlockEvent, "id" | "created">;

/** A file's content and provenance, as added or updated. */
export type FileContent = Pick<RequestFile, "sha256" | "size" | "action" | "jobId" | "commit" | "check" | "declaration">;

export interface RequestFilter {
  workspace?: string;
  author?: string;
  statuses?: readonly RequestStatus[];
}

export interface OpenOptions {
  /** PostgreSQL: the schema to use (created if missing). */
  schema?: string;
  /** The clock for every time stored; the system clock unless a test says otherwise. */
  clock?: () => Date;
}

const REQUEST_COLUMNS = "id, workspace, project, author, status, turn, created, updated";
const toRequest = (r: Row): ReleaseRequest => ({
  id: Number(r.id),
  workspace: String(r.workspace),
  project: Number(r.project),
  author: String(r.author),
  status: r.status as RequestStatus,
  turn: Number(r.turn),
  created: String(r.created),
  updated: String(r.updated),
});
const text = (v: unknown): string | null => (v == null ? null : String(v));

function toFile(r: Row): RequestFile {
  const check = r.check_result == null ? null : (JSON.parse(String(r.check_result)) as CheckVerdict);
  return {
    id: Number(r.id),
    group: String(r.group_name),
    path: String(r.path),
    kind: r.kind as FileKind,
    sha256: String(r.sha256),
    size: Number(r.size),
    action: String(r.action),
    jobId: String(r.job_id),
    commit: text(r.commit_sha),
    check,
    declaration: text(r.declaration),
    added: String(r.added),
    updated: String(r.updated),
    released: text(r.released),
  };
}

const toEvent = (r: Row): AirlockEvent => ({
  id: Number(r.id),
  request: r.request_id == null ? null : Number(r.request_id),
  type: r.type as AuditEvent,
  username: String(r.username),
  workspace: String(r.workspace),
  path: text(r.path),
  visibility: r.visibility as Visibility,
  turn: Number(r.turn),
  details: JSON.parse(String(r.details)) as JsonObject,
  created: String(r.created),
});

/** One transaction's view of the store. `now` is fixed for the whole transaction. */
export class AirlockTx {
  /** The events written in this transaction, in order (the service copies them to the audit log). */
  readonly written: AirlockEvent[] = [];

  constructor(
    private readonly db: Db,
    readonly now: string,
  ) {}

  private async one(sql: string, params: readonly Param[]): Promise<Row | undefined> {
    return (await this.db.all(sql, params))[0];
  }

  // --- reading ---------------------------------------------------------------

  async request(id: number): Promise<ReleaseRequest | undefined> {
    const r = await this.one(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = ?`, [id]);
    return r && toRequest(r);
  }

  async requests(filter: RequestFilter = {}): Promise<ReleaseRequest[]> {
    if (filter.statuses?.length === 0) return [];
    const { where, params } = whereOf([
      filter.workspace !== undefined && ["workspace = ?", filter.workspace],
      filter.author !== undefined && ["author = ?", filter.author],
      filter.statuses !== undefined && [`status IN (${filter.statuses.map(() => "?").join(", ")})`, ...filter.statuses],
    ]);
    const sql = `SELECT ${REQUEST_COLUMNS} FROM requests WHERE ${where} ORDER BY id`;
    return (await this.db.all(sql, params)).map(toRequest);
  }

  async activeRequest(workspace: string, author: string, active: readonly RequestStatus[]): Promise<ReleaseRequest | undefined> {
    return (await this.requests({ workspace, author, statuses: active }))[0];
  }

  /** The request with everything the logic looks at. */
  async aggregate(id: number): Promise<RequestAggregate | undefined> {
    const request = await this.request(id);
    if (!request) return undefined;
    const groups: FileGroup[] = (await this.db.all("SELECT name, context, controls, changes_requested FROM file_groups WHERE request_id = ? ORDER BY id", [id])).map((r) => ({
      name: String(r.name),
      context: String(r.context),
      controls: String(r.controls),
      changesRequested: Number(r.changes_requested) === 1,
    }));
    const files = (await this.db.all("SELECT f.*, g.name AS group_name FROM request_files f JOIN file_groups g ON g.id = f.group_id WHERE f.request_id = ? ORDER BY f.path", [id])).map(toFile);
    const votes: Vote[] = (
      await this.db.all("SELECT v.file_id, v.reviewer, v.vote, v.sha256, v.turn, v.updated FROM votes v JOIN request_files f ON f.id = v.file_id WHERE f.request_id = ? ORDER BY v.file_id, v.reviewer", [id])
    ).map((r) => ({ file: Number(r.file_id), reviewer: String(r.reviewer), vote: r.vote as VoteValue, sha256: String(r.sha256), turn: Number(r.turn), updated: String(r.updated) }));
    const reviews: ReviewSubmission[] = (await this.db.all("SELECT reviewer, turn, submitted FROM reviews WHERE request_id = ? ORDER BY turn, submitted, reviewer", [id])).map((r) => ({
      reviewer: String(r.reviewer),
      turn: Number(r.turn),
      submitted: String(r.submitted),
    }));
    const comments: Comment[] = (
      await this.db.all("SELECT c.id, g.name AS group_name, c.author, c.text, c.visibility, c.turn, c.created FROM comments c JOIN file_groups g ON g.id = c.group_id WHERE c.request_id = ? ORDER BY c.id", [id])
    ).map((r) => ({ id: Number(r.id), group: String(r.group_name), author: String(r.author), text: String(r.text), visibility: r.visibility as Visibility, turn: Number(r.turn), created: String(r.created) }));
    return { request, groups, files, votes, reviews, comments };
  }

  /** The files of the workspace that the job server accepted, newest first. */
  async releasedFiles(workspace: string): Promise<{ request: number; path: string; sha256: string; released: string }[]> {
    const rows = await this.db.all("SELECT f.request_id, f.path, f.sha256, f.released FROM request_files f JOIN requests r ON r.id = f.request_id WHERE r.workspace = ? AND f.released IS NOT NULL ORDER BY f.released DESC", [workspace]);
    return rows.map((r) => ({ request: Number(r.request_id), path: String(r.path), sha256: String(r.sha256), released: String(r.released) }));
  }

  async requestEvents(request: number): Promise<AirlockEvent[]> {
    return (await this.db.all("SELECT * FROM events WHERE request_id = ? ORDER BY id", [request])).map(toEvent);
  }

  // --- requests and groups ------------------------------------------------------

  async createRequest(input: { workspace: string; project: number; author: string }): Promise<ReleaseRequest> {
    try {
      const r = await this.one(`INSERT INTO requests (workspace, project, author, status, turn, created, updated) VALUES (?, ?, ?, 'pending', 0, ?, ?) RETURNING ${REQUEST_COLUMNS}`, [
        input.workspace,
        input.project,
        input.author,
        this.now,
        this.now,
      ]);
      return toRequest(r!);
    } catch (e) {
      if (isUniqueViolation(e)) throw new RuleViolation(`${input.author} already has an active request in workspace ${input.workspace}`);
      throw e;
    }
  }

  async setStatus(id: number, status: RequestStatus, turn: number): Promise<void> {
    await this.db.all("UPDATE requests SET status = ?, turn = ?, updated = ? WHERE id = ?", [status, turn, this.now, id]);
  }

  async touch(id: number): Promise<void> {
    await this.db.all("UPDATE requests SET updated = ? WHERE id = ?", [this.now, id]);
  }

  private async groupId(request: number, name: string): Promise<number | undefined> {
    const r = await this.one("SELECT id FROM file_groups WHERE request_id = ? AND name = ?", [request, name]);
    return r === undefined ? undefined : Number(r.id);
  }

  /** The group's id, creating the group if it is new. */
  async ensureGroup(request: number, name: string): Promise<number> {
    const id = await this.groupId(request, name);
    if (id !== undefined) return id;
    return Number((await this.one("INSERT INTO file_groups (request_id, name) VALUES (?, ?) RETURNING id", [request, name]))!.id);
  }

  async setGroup(request: number, name: string, values: Partial<Pick<FileGroup, "context" | "controls" | "changesRequested">>): Promise<void> {
    const id = await this.ensureGroup(request, name);
    if (values.context !== undefined) await this.db.all("UPDATE file_groups SET context = ? WHERE id = ?", [values.context, id]);
    if (values.controls !== undefined) await this.db.all("UPDATE file_groups SET controls = ? WHERE id = ?", [values.controls, id]);
    if (values.changesRequested !== undefined) await this.db.all("UPDATE file_groups SET changes_requested = ? WHERE id = ?", [values.changesRequested ? 1 : 0, id]);
  }

  // --- files -------------------------------------------------------------------------

  private contentParams(c: FileContent): Param[] {
    return [c.sha256, c.size, c.action, c.jobId, c.commit, c.check?.status ?? null, c.check ? JSON.stringify(c.check) : null, c.declaration];
  }

  async insertFile(request: number, group: string, path: string, kind: FileKind, content: FileContent): Promise<number> {
    const groupId = await this.ensureGroup(request, group);
    const r = await this.one(
      "INSERT INTO request_files (request_id, group_id, path, kind, sha256, size, action, job_id, commit_sha, check_status, check_result, declaration, added, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      [request, groupId, path, kind, ...this.contentParams(content), this.now, this.now],
    );
    return Number(r!.id);
  }

  /** New bytes for a file already in the request (its votes are the caller's to reset). */
  async replaceContent(file: number, content: FileContent): Promise<void> {
    await this.db.all("UPDATE request_files SET sha256 = ?, size = ?, action = ?, job_id = ?, commit_sha = ?, check_status = ?, check_result = ?, declaration = ?, updated = ? WHERE id = ?", [
      ...this.contentParams(content),
      this.now,
      file,
    ]);
  }

  async setFilePlace(file: number, request: number, place: { group: string; kind: FileKind }): Promise<void> {
    const groupId = await this.ensureGroup(request, place.group);
    await this.db.all("UPDATE request_files SET group_id = ?, kind = ?, updated = ? WHERE id = ?", [groupId, place.kind, this.now, file]);
  }

  async deleteFile(file: number): Promise<void> {
    await this.db.all("DELETE FROM votes WHERE file_id = ?", [file]);
    await this.db.all("DELETE FROM request_files WHERE id = ?", [file]);
  }

  async markReleased(file: number): Promise<void> {
    await this.db.all("UPDATE request_files SET released = ? WHERE id = ?", [this.now, file]);
  }

  // --- votes and reviews ------------------------------------------------------------------

  async setVote(file: number, reviewer: string, vote: VoteValue, sha256: string, turn: number): Promise<void> {
    await this.db.all("DELETE FROM votes WHERE file_id = ? AND reviewer = ?", [file, reviewer]);
    await this.db.all("INSERT INTO votes (file_id, reviewer, vote, sha256, turn, updated) VALUES (?, ?, ?, ?, ?, ?)", [file, reviewer, vote, sha256, turn, this.now]);
  }

  async deleteVotesOfFile(file: number): Promise<void> {
    await this.db.all("DELETE FROM votes WHERE file_id = ?", [file]);
  }

  async deleteVotesOfTurn(request: number, turn: number): Promise<void> {
    await this.db.all("DELETE FROM votes WHERE turn = ? AND file_id IN (SELECT id FROM request_files WHERE request_id = ?)", [turn, request]);
  }

  async addReview(request: number, reviewer: string, turn: number): Promise<void> {
    await this.db.all("INSERT INTO reviews (request_id, reviewer, turn, submitted) VALUES (?, ?, ?, ?)", [request, reviewer, turn, this.now]);
  }

  async deleteReviewsOfTurn(request: number, turn: number): Promise<void> {
    await this.db.all("DELETE FROM reviews WHERE request_id = ? AND turn = ?", [request, turn]);
  }

  // --- comments ---------------------------------------------------------------------------

  async addComment(request: number, input: Pick<Comment, "group" | "author" | "text" | "visibility" | "turn">): Promise<Comment> {
    const groupId = await this.ensureGroup(request, input.group);
    const r = await this.one("INSERT INTO comments (request_id, group_id, author, text, visibility, turn, created) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id", [
      request,
      groupId,
      input.author,
      input.text,
      input.visibility,
      input.turn,
      this.now,
    ]);
    return { id: Number(r!.id), ...input, created: this.now };
  }

  async deleteComment(id: number): Promise<void> {
    await this.db.all("DELETE FROM comments WHERE id = ?", [id]);
  }

  async setCommentVisibility(id: number, visibility: Visibility): Promise<void> {
    await this.db.all("UPDATE comments SET visibility = ? WHERE id = ?", [visibility, id]);
  }

  async deleteCommentsOfTurn(request: number, turn: number): Promise<void> {
    await this.db.all("DELETE FROM comments WHERE request_id = ? AND turn = ?", [request, turn]);
  }

  // --- events --------------------------------------------------------------------------------

  async addEvent(e: NewEvent): Promise<AirlockEvent> {
    const r = await this.one("INSERT INTO events (request_id, type, username, workspace, path, visibility, turn, details, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", [
      e.request,
      e.type,
      e.username,
      e.workspace,
      e.path,
      e.visibility,
      e.turn,
      JSON.stringify(e.details),
      this.now,
    ]);
    const event = { ...e, id: Number(r!.id), created: this.now };
    this.written.push(event);
    return event;
  }
}

export class AirlockStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly clock: () => Date,
    /** The migrations this open applied (empty when the schema was current). */
    readonly appliedMigrations: readonly number[],
  ) {}

  /** Opens (creating and migrating if need be) the store at a SQLite path, `sqlite://path`, `:memory:`, or a postgres(ql):// URL. */
  static async open(target: string, options: OpenOptions = {}): Promise<AirlockStore> {
    const { db, applied } = await openMigrated(
      target,
      { schema: options.schema, lockName: "enclave.airlock", noFile: () => new Error("the airlock store needs a file: sqlite:///path/to/airlock.db"), cannotOpen: (why) => new Error(`the airlock's database: ${why}`) },
      MIGRATIONS,
      MIGRATIONS_TABLE,
    );
    return new AirlockStore(db, options.clock ?? (() => new Date()), applied);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.db.close();
  }

  /** The store's clock, as stored. */
  now(): string {
    return this.clock().toISOString();
  }

  async migrationVersions(): Promise<number[]> {
    return this.read(async () => (await this.db.all(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`)).map((r) => Number(r.version)));
  }

  // One connection serves one transaction at a time, so calls wait for each other.
  private serial<T>(fn: (tx: AirlockTx) => Promise<T>, lock: boolean): Promise<T> {
    const run = this.queue.then(() => this.db.transaction(() => fn(new AirlockTx(this.db, this.clock().toISOString())), lock));
    this.queue = run.catch(() => undefined);
    return run;
  }

  read<T>(fn: (tx: AirlockTx) => Promise<T>): Promise<T> {
    return this.serial(fn, false);
  }

  /** A transaction holding the write lock from its start: whatever fn reads stays true until it commits. */
  write<T>(fn: (tx: AirlockTx) => Promise<T>): Promise<T> {
    return this.serial(fn, true);
  }
}
