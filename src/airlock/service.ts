// The airlock's operations, as the HTTP service and the uploader will call
// them. Each takes the actor (a job server Principal, or SYSTEM for the
// uploader), asks the job server (through `workspaces`) about the workspace,
// and runs in one write transaction: load the request whole, judge it with
// rules.ts and workflow.ts, write the outcome and its events. The events go to
// the airlock's own table and, before the transaction commits, to the
// hash-chained audit log: if the log refuses, nothing happened.
//
// Slow file work (hashing, copying, the disclosure checks) happens before the
// transaction, after a first permission check, and is checked again inside.

import * as path from "node:path";
import type { AuditLog, JsonObject } from "../audit/index.js";
import type { Principal } from "../jobserver/permissions.js";
import { Blocked, ContentMismatch, NotFound, PermissionDenied, RuleViolation } from "./errors.js";
import {
  type AirlockPaths,
  captureFile,
  checkRelativePath,
  level4Dir,
  level4Entries,
  level4Entry,
  objectPath,
  readObject,
  readWorkspaceManifest,
  recordInLedger,
} from "./files.js";
import {
  type Actor,
  type FileKind,
  type ReleaseRequest,
  type RequestAggregate,
  type RequestFile,
  type Visibility,
  type VoteValue,
  type WorkspaceInfo,
  type WorkspaceLookup,
  VISIBILITIES,
  VOTES,
  approvals,
  countedVotes,
  isSystem,
  outputFiles,
} from "./model.js";
import { blockedReason, roleOf } from "./permissions.js";
import {
  type RequestContext,
  checkUploader,
  checkUserCanComment,
  checkUserCanCreate,
  checkUserCanDownload,
  checkUserCanDownloadWorkspace,
  checkUserCanEdit,
  checkUserCanReview,
  checkUserCanView,
  checkUserCanViewWorkspace,
  userCanView,
} from "./rules.js";
import { type AirlockEvent, type AirlockStore, type AirlockTx, type RequestFilter } from "./store.js";
import { type RequestView, canSee, requestView } from "./view.js";
import { type AuditEvent, type RequestStatus, type TransitionContext, ACTIVE_STATUSES, CONDITIONS, advancesTurn, checkTransition, isBlinded } from "./workflow.js";

export interface AirlockOptions extends AirlockPaths {
  store: AirlockStore;
  audit: AuditLog;
  /** The job server's answer about a workspace (its project's status, whether it is archived), asked on every call. */
  workspaces: WorkspaceLookup;
  /** The automated checks' limits (src/sdc/check.ts defaults otherwise). */
  checks?: { threshold?: number; base?: number };
}

export interface AddFileInput {
  workspace: string;
  /** Relative to the workspace, as its manifest lists it. */
  path: string;
  group: string;
  kind?: "output" | "supporting";
}

/** A level 4 file of a workspace, against the viewer's active request and past releases. */
export type WorkspaceFileStatus = "released" | "under_review" | "updated" | "withdrawn" | "unreleased";

export interface WorkspaceFile {
  path: string;
  size: number;
  sha256: string;
  action: string;
  jobId: string;
  commit: string | null;
  status: WorkspaceFileStatus;
  /** The viewer's active request holding the file, if any. */
  request: number | null;
}

/** A file to show or send: where its bytes are on disk, and what they must hash to. */
export interface OpenedFile {
  name: string;
  file: string;
  sha256: string;
  size: number;
}

/** What the uploader sends to the job server first, then each file's bytes. */
export interface ReleaseItem extends OpenedFile {
  /** When the request's copy was taken. */
  date: string;
  /** Already accepted by the job server. */
  released: boolean;
}

const MAX_TEXT = 20_000;
const GROUP_NAME = /^[^\s/\\][^/\\]{0,99}$/;

function groupName(name: string): string {
  if (typeof name !== "string" || !GROUP_NAME.test(name.trim()) || name.trim() !== name) {
    throw new RuleViolation(`${JSON.stringify(name)} is not a group name: use up to 100 characters, no slashes, no leading or trailing spaces`);
  }
  return name;
}

function boundedText(text: unknown, what: string, allowEmpty: boolean): string {
  if (typeof text !== "string") throw new RuleViolation(`${what} must be text`);
  if (!allowEmpty && text.trim() === "") throw new RuleViolation(`${what} is empty`);
  if (text.length > MAX_TEXT) throw new RuleViolation(`${what} is ${text.length} characters long, over the limit of ${MAX_TEXT}`);
  return text;
}

function username(actor: Actor): string {
  if (isSystem(actor)) return "system";
  if (typeof actor?.username !== "string" || actor.username === "" || !Array.isArray(actor.globalRoles) || typeof actor.projectRoles !== "object" || actor.projectRoles === null) {
    throw new PermissionDenied("the caller is not a user: a user has a username, global roles and project roles");
  }
  return actor.username;
}

const fileIn = (agg: RequestAggregate, p: string): RequestFile => {
  const f = agg.files.find((x) => x.path === p);
  if (!f) throw new NotFound(`${JSON.stringify(p)} is not in request ${agg.request.id}`);
  return f;
};

const VOTE_EVENT: Readonly<Record<VoteValue, AuditEvent>> = {
  approved: "airlock.file.approve",
  changes_requested: "airlock.file.request_changes",
  undecided: "airlock.file.review_reset",
};

export class Airlock {
  private readonly store: AirlockStore;
  private readonly audit: AuditLog;
  private readonly paths: AirlockPaths;

  constructor(private readonly options: AirlockOptions) {
    this.store = options.store;
    this.audit = options.audit;
    this.paths = { backendDir: path.resolve(options.backendDir), airlockDir: path.resolve(options.airlockDir) };
  }

  // =========================================================================
  // PLUMBING

  private async workspace(name: string): Promise<WorkspaceInfo> {
    const ws = await this.options.workspaces(name);
    if (!ws) throw new NotFound(`there is no workspace named ${JSON.stringify(name)}`);
    return ws;
  }

  private async requestWorkspace(id: number): Promise<WorkspaceInfo> {
    const request = await this.store.read((tx) => tx.request(id));
    if (!request) throw new NotFound(`there is no request ${id}`);
    return this.workspace(request.workspace);
  }

  /** A write transaction whose events reach the audit log before it commits. */
  private write<T>(fn: (tx: AirlockTx) => Promise<T>): Promise<T> {
    return this.store.write(async (tx) => {
      const result = await fn(tx);
      for (const e of tx.written) {
        const details: JsonObject = { workspace: e.workspace, request: e.request, path: e.path, visibility: e.visibility, turn: e.turn, ...e.details };
        await this.audit.append({ actor: e.username, action: e.type, subject: e.request === null ? `workspace:${e.workspace}` : `airlock_request:${e.request}`, details });
      }
      return result;
    });
  }

  private async load(tx: AirlockTx, id: number): Promise<RequestAggregate> {
    const agg = await tx.aggregate(id);
    if (!agg) throw new NotFound(`there is no request ${id}`);
    return agg;
  }

  /** Loads the request in a write transaction and hands it to fn with its workspace. */
  private async change<T>(id: number, actor: Actor, fn: (tx: AirlockTx, c: RequestContext) => Promise<T>): Promise<T> {
    username(actor);
    const ws = await this.requestWorkspace(id);
    return this.write(async (tx) => fn(tx, { agg: await this.load(tx, id), ws }));
  }

  private async record(
    tx: AirlockTx,
    actor: Actor,
    request: ReleaseRequest,
    type: AuditEvent,
    opts: { path?: string; visibility?: Visibility; details?: JsonObject } = {},
  ): Promise<AirlockEvent> {
    return tx.addEvent({ request: request.id, type, username: username(actor), workspace: request.workspace, path: opts.path ?? null, visibility: opts.visibility ?? "public", turn: request.turn, details: opts.details ?? {} });
  }

  private async viewOf(tx: AirlockTx, id: number, ws: WorkspaceInfo, actor: Actor): Promise<RequestView> {
    return requestView(await this.load(tx, id), ws, actor);
  }

  /**
   * Every change of status: judged by checkTransition, then written with its
   * event, in the caller's transaction. Returns the request as it now is.
   */
  private async setStatus(tx: AirlockTx, c: TransitionContext, actor: Actor, to: RequestStatus): Promise<RequestAggregate> {
    const { request } = c.agg;
    const move = checkTransition(c, actor, to);
    const turn = advancesTurn(request.status, to) ? request.turn + 1 : request.turn;
    await tx.setStatus(request.id, to, turn);
    await this.record(tx, actor, request, move.event, { details: { from: request.status, to, turn } });
    return this.load(tx, request.id);
  }

  private async resetVotes(tx: AirlockTx, actor: Actor, agg: RequestAggregate, file: RequestFile, why: string): Promise<void> {
    const reviewers = agg.votes.filter((v) => v.file === file.id).map((v) => v.reviewer);
    if (reviewers.length === 0) return;
    await tx.deleteVotesOfFile(file.id);
    await this.record(tx, actor, agg.request, "airlock.file.review_reset", { path: file.path, details: { reviewers, why } });
  }

  private async refuseReleased(tx: AirlockTx, workspace: string, p: string, sha256: string): Promise<void> {
    const done = (await tx.releasedFiles(workspace)).find((r) => r.path === p && r.sha256 === sha256);
    if (done) throw new RuleViolation(`${JSON.stringify(p)} was already released from workspace ${workspace}, with these very bytes, by request ${done.request} (${done.released})`);
  }

  // =========================================================================
  // REQUESTS

  private async newRequest(tx: AirlockTx, actor: Principal, ws: WorkspaceInfo): Promise<ReleaseRequest> {
    const existing = await tx.activeRequest(ws.name, actor.username, ACTIVE_STATUSES);
    if (existing) throw new RuleViolation(`${JSON.stringify(actor.username)} already has an active request in workspace ${ws.name} (request ${existing.id}, ${existing.status}): one at a time, so add files to it, or withdraw it first`);
    const request = await tx.createRequest({ workspace: ws.name, project: ws.project.number, author: actor.username });
    await this.record(tx, actor, request, "airlock.request.create");
    return request;
  }

  /** Starts a request; adding a file starts one too. A user has at most one active request per workspace. */
  async createRequest(actor: Actor, workspace: string): Promise<RequestView> {
    username(actor);
    const ws = await this.workspace(workspace);
    checkUserCanCreate(actor, ws);
    return this.write(async (tx) => this.viewOf(tx, (await this.newRequest(tx, actor as Principal, ws)).id, ws, actor));
  }

  /** The actor's active request in the workspace, if any. */
  async activeRequest(actor: Actor, workspace: string): Promise<RequestView | undefined> {
    const name = username(actor);
    const ws = await this.workspace(workspace);
    return this.store.read(async (tx) => {
      const r = await tx.activeRequest(ws.name, name, ACTIVE_STATUSES);
      if (!r) return undefined;
      const agg = await this.load(tx, r.id);
      checkUserCanView({ agg, ws }, actor);
      return requestView(agg, ws, actor);
    });
  }

  /** The request as the actor may see it: blinded votes, private comments and decisions left out as the rules say. */
  async getRequest(actor: Actor, id: number): Promise<RequestView> {
    username(actor);
    const ws = await this.requestWorkspace(id);
    return this.store.read(async (tx) => {
      const agg = await this.load(tx, id);
      checkUserCanView({ agg, ws }, actor);
      return requestView(agg, ws, actor);
    });
  }

  /** The requests the actor may see, oldest first. */
  async listRequests(actor: Actor, filter: RequestFilter = {}): Promise<ReleaseRequest[]> {
    username(actor);
    const requests = await this.store.read((tx) => tx.requests(filter));
    const known = new Map<string, WorkspaceInfo | undefined>();
    const out: ReleaseRequest[] = [];
    for (const request of requests) {
      if (!known.has(request.workspace)) known.set(request.workspace, await this.options.workspaces(request.workspace));
      const ws = known.get(request.workspace);
      if (ws && userCanView({ agg: { request, groups: [], files: [], votes: [], reviews: [], comments: [] }, ws }, actor)) out.push(request);
    }
    return out;
  }

  /** The request's events, as the actor may see them (the same rules as votes and comments). */
  async events(actor: Actor, id: number): Promise<AirlockEvent[]> {
    const name = username(actor);
    const ws = await this.requestWorkspace(id);
    return this.store.read(async (tx) => {
      const agg = await this.load(tx, id);
      checkUserCanView({ agg, ws }, actor);
      const role = roleOf(agg.request.author, actor, ws);
      return (await tx.requestEvents(id)).filter((e) => canSee(agg.request, role, name, { by: e.username, visibility: e.visibility, turn: e.turn }));
    });
  }

  // =========================================================================
  // THE AUTHOR: FILES AND GROUPS

  private captureOptions(ws: WorkspaceInfo) {
    return { ...this.options.checks, project: ws.project.number, now: this.store.now() };
  }

  /**
   * Adds a level 4 file of the workspace to the actor's active request (made if
   * there is none): its bytes must be those its job wrote, and they are copied
   * and checked. A file withdrawn earlier may be added again.
   */
  async addFile(actor: Actor, input: AddFileInput): Promise<RequestView> {
    const name = username(actor);
    const ws = await this.workspace(input.workspace);
    checkUserCanCreate(actor, ws);
    const kind: FileKind = input.kind ?? "output";
    if (kind !== "output" && kind !== "supporting") throw new RuleViolation(`${JSON.stringify(kind)} is not a kind of file to add: output or supporting`);
    const group = groupName(input.group);
    checkRelativePath(input.path);
    const precheck = async (tx: AirlockTx) => {
      const r = await tx.activeRequest(ws.name, name, ACTIVE_STATUSES);
      if (r) checkUserCanEdit({ agg: await this.load(tx, r.id), ws }, actor);
    };
    await this.store.read(precheck);
    const content = await captureFile(this.paths, ws.name, input.path, this.captureOptions(ws));
    return this.write(async (tx) => {
      await precheck(tx);
      const request = (await tx.activeRequest(ws.name, name, ACTIVE_STATUSES)) ?? (await this.newRequest(tx, actor as Principal, ws));
      const agg = await this.load(tx, request.id);
      checkUserCanEdit({ agg, ws }, actor);
      await this.refuseReleased(tx, ws.name, input.path, content.sha256);
      const existing = agg.files.find((f) => f.path === input.path);
      if (existing && existing.kind !== "withdrawn") {
        throw new RuleViolation(`${JSON.stringify(input.path)} is already in request ${request.id} (group ${JSON.stringify(existing.group)}, ${existing.kind}): update it or change its group or kind instead`);
      }
      if (existing) {
        await tx.replaceContent(existing.id, content);
        await tx.setFilePlace(existing.id, request.id, { group, kind });
        await this.resetVotes(tx, actor, agg, existing, "added again");
      } else {
        await tx.insertFile(request.id, group, input.path, kind, content);
      }
      await tx.touch(request.id);
      await this.record(tx, actor, request, "airlock.file.add", { path: input.path, details: { group, kind, sha256: content.sha256, size: content.size, check: content.check?.status ?? null } });
      return this.viewOf(tx, request.id, ws, actor);
    });
  }

  /** Replaces the request's copy with the workspace's current file (which must be what its job wrote); every vote on it is reset. */
  async updateFile(actor: Actor, id: number, p: string): Promise<RequestView> {
    username(actor);
    const ws = await this.requestWorkspace(id);
    const precheck = async (tx: AirlockTx) => {
      const agg = await this.load(tx, id);
      checkUserCanEdit({ agg, ws }, actor);
      const file = fileIn(agg, p);
      if (file.kind === "withdrawn") throw new RuleViolation(`${JSON.stringify(p)} was withdrawn from request ${id}: add it again instead`);
      return { agg, file };
    };
    const before = await this.store.read(precheck);
    const content = await captureFile(this.paths, ws.name, p, this.captureOptions(ws));
    if (content.sha256 === before.file.sha256) throw new RuleViolation(`${JSON.stringify(p)} in workspace ${ws.name} is the same as request ${id}'s copy: there is nothing to update`);
    return this.write(async (tx) => {
      const { agg, file } = await precheck(tx);
      await this.refuseReleased(tx, ws.name, p, content.sha256);
      await tx.replaceContent(file.id, content);
      await this.resetVotes(tx, actor, agg, file, "the file was updated");
      await tx.touch(id);
      await this.record(tx, actor, agg.request, "airlock.file.update", { path: p, details: { from: file.sha256, to: content.sha256, check: content.check?.status ?? null } });
      return this.viewOf(tx, id, ws, actor);
    });
  }

  /** Moves a file to another group or changes its kind; either resets its votes. */
  async changeFile(actor: Actor, id: number, p: string, change: { group?: string; kind?: "output" | "supporting" }): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      checkUserCanEdit(c, actor);
      const file = fileIn(c.agg, p);
      if (file.kind === "withdrawn") throw new RuleViolation(`${JSON.stringify(p)} was withdrawn from request ${id}: add it again instead`);
      const group = change.group === undefined ? file.group : groupName(change.group);
      const kind = change.kind ?? file.kind;
      if (kind !== "output" && kind !== "supporting") throw new RuleViolation(`${JSON.stringify(kind)} is not a kind of file: output or supporting`);
      if (group !== file.group || kind !== file.kind) {
        await tx.setFilePlace(file.id, id, { group, kind });
        await this.resetVotes(tx, actor, c.agg, file, "the file moved group or changed kind");
        await tx.touch(id);
        await this.record(tx, actor, c.agg.request, "airlock.file.change", { path: p, details: { from: { group: file.group, kind: file.kind }, to: { group, kind } } });
      }
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /** Takes a file out of a request that was never submitted (once submitted, files are withdrawn instead, and stay on the record). */
  async removeFile(actor: Actor, id: number, p: string): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      checkUserCanEdit(c, actor);
      if (c.agg.request.status !== "pending") throw new RuleViolation(`cannot remove ${JSON.stringify(p)} from request ${id}: it is ${c.agg.request.status}, and submitted files stay on the record; withdraw it instead`);
      const file = fileIn(c.agg, p);
      await tx.deleteFile(file.id);
      await tx.touch(id);
      await this.record(tx, actor, c.agg.request, "airlock.file.remove", { path: p, details: { group: file.group, kind: file.kind, sha256: file.sha256 } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /** Withdraws a file from a returned request: it stays, marked withdrawn, and is neither voted on nor released. */
  async withdrawFile(actor: Actor, id: number, p: string): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      checkUserCanEdit(c, actor);
      if (c.agg.request.status !== "returned") throw new RuleViolation(`cannot withdraw ${JSON.stringify(p)} from request ${id}: it is ${c.agg.request.status}, and files are withdrawn from returned requests; remove it instead`);
      const file = fileIn(c.agg, p);
      if (file.kind === "withdrawn") throw new RuleViolation(`${JSON.stringify(p)} is already withdrawn from request ${id}`);
      await tx.setFilePlace(file.id, id, { group: file.group, kind: "withdrawn" });
      await this.resetVotes(tx, actor, c.agg, file, "the file was withdrawn");
      await tx.touch(id);
      await this.record(tx, actor, c.agg.request, "airlock.file.withdraw", { path: p, details: { group: file.group, kind: file.kind } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /** Sets a group's context and controls (what the files are; the disclosure controls applied), required before submitting. */
  async setGroupText(actor: Actor, id: number, group: string, text: { context?: string; controls?: string }): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      checkUserCanEdit(c, actor);
      if (!c.agg.groups.some((g) => g.name === group)) throw new NotFound(`request ${id} has no group ${JSON.stringify(group)}`);
      const values: { context?: string; controls?: string } = {};
      if (text.context !== undefined) values.context = boundedText(text.context, `the context of group ${JSON.stringify(group)}`, true);
      if (text.controls !== undefined) values.controls = boundedText(text.controls, `the controls of group ${JSON.stringify(group)}`, true);
      await tx.setGroup(id, group, values);
      await tx.touch(id);
      await this.record(tx, actor, c.agg.request, "airlock.group.edit", { details: { group, ...values } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  // =========================================================================
  // THE AUTHOR: STATUS

  /**
   * Submits a pending request, or resubmits a returned one. `confirm`: the
   * author confirms the outputs are aggregated, small numbers suppressed, and
   * nothing identifies small areas or GP practices. Resubmitting turns every
   * "changes requested" vote into undecided, for the new turn.
   */
  async submit(actor: Actor, id: number, options: { confirm: boolean }): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      const resubmitting = c.agg.request.status === "returned";
      const agg = await this.setStatus(tx, { ...c, confirmed: options.confirm === true }, actor, "submitted");
      if (resubmitting) {
        for (const v of agg.votes.filter((x) => x.vote === "changes_requested")) {
          const file = agg.files.find((f) => f.id === v.file)!;
          await tx.setVote(v.file, v.reviewer, "undecided", v.sha256, agg.request.turn);
          await this.record(tx, actor, agg.request, "airlock.file.review_reset", { path: file.path, visibility: "private", details: { reviewer: v.reviewer, why: "resubmitted" } });
        }
        for (const g of agg.groups.filter((x) => x.changesRequested)) await tx.setGroup(id, g.name, { changesRequested: false });
      }
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /** Resubmits a returned request (submit, for a request that must be returned). */
  async resubmit(actor: Actor, id: number, options: { confirm: boolean }): Promise<RequestView> {
    const { request } = await this.getRequest(actor, id);
    if (request.status !== "returned") throw new RuleViolation(`cannot resubmit request ${id}: it is ${request.status}, and only returned requests are resubmitted`);
    return this.submit(actor, id, options);
  }

  async withdraw(actor: Actor, id: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      await this.setStatus(tx, c, actor, "withdrawn");
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  // =========================================================================
  // THE REVIEWERS

  /** The reviewer's vote on an output file; it can change until they submit their review. */
  async review(actor: Actor, id: number, p: string, vote: VoteValue): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      checkUserCanReview(c, actor);
      if (!VOTES.includes(vote)) throw new RuleViolation(`${JSON.stringify(vote)} is not a vote: ${VOTES.join(", ")}`);
      const file = fileIn(c.agg, p);
      if (file.kind !== "output") throw new RuleViolation(`${JSON.stringify(p)} is a ${file.kind} file of request ${id}: only output files are voted on`);
      const { request } = c.agg;
      await tx.setVote(file.id, username(actor), vote, file.sha256, request.turn);
      await this.record(tx, actor, request, VOTE_EVENT[vote], { path: p, visibility: "private", details: { vote, sha256: file.sha256 } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /**
   * Submits the reviewer's review: a vote (approved or changes requested) on
   * every output file, and a comment this turn on every group where they asked
   * for changes. The first review of a turn makes the request partially
   * reviewed, the second reviewed; counted from the reviews themselves, so two
   * submitted at once still make two.
   */
  async submitReview(actor: Actor, id: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      checkUserCanReview(c, actor);
      const me = username(actor);
      const { request } = c.agg;
      const mine = (f: RequestFile) => c.agg.votes.find((v) => v.file === f.id && v.reviewer === me && v.sha256 === f.sha256);
      const unvoted = outputFiles(c.agg).filter((f) => (mine(f)?.vote ?? "undecided") === "undecided");
      if (unvoted.length > 0) throw new RuleViolation(`cannot submit the review of request ${id}: vote on every output file first (not yet: ${unvoted.map((f) => JSON.stringify(f.path)).join(", ")})`);
      const asked = new Set(outputFiles(c.agg).filter((f) => mine(f)?.vote === "changes_requested").map((f) => f.group));
      const silent = [...asked].filter((g) => !c.agg.comments.some((m) => m.group === g && m.author === me && m.turn === request.turn));
      if (silent.length > 0) throw new RuleViolation(`cannot submit the review of request ${id}: comment on ${silent.map((g) => JSON.stringify(g)).join(", ")} first, saying what changes you requested`);
      await tx.addReview(id, me, request.turn);
      await this.record(tx, actor, request, "airlock.request.review", { details: { reviewer: me } });
      let agg = await this.load(tx, id);
      if (agg.request.status === "submitted") agg = await this.setStatus(tx, { ...c, agg }, actor, "partially_reviewed");
      const reviews = agg.reviews.filter((r) => r.turn === agg.request.turn).length;
      if (agg.request.status === "partially_reviewed" && reviews >= 2) agg = await this.setStatus(tx, { ...c, agg }, actor, "reviewed");
      return requestView(agg, c.ws, actor);
    });
  }

  /**
   * Returns the request to its author. Before both reviews are in (early
   * return), this turn's votes, comments and reviews are reset. After, each
   * group with files not approved needs a public comment; the groups where
   * changes were requested are marked, and the author must answer each before
   * resubmitting.
   */
  async returnRequest(actor: Actor, id: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      const { request } = c.agg;
      const early = isBlinded(request.status);
      await this.setStatus(tx, c, actor, "returned");
      if (early) {
        await tx.deleteVotesOfTurn(id, request.turn);
        await tx.deleteCommentsOfTurn(id, request.turn);
        await tx.deleteReviewsOfTurn(id, request.turn);
      } else {
        const asked = new Set(outputFiles(c.agg).filter((f) => countedVotes(c.agg, f).some((v) => v.vote === "changes_requested")).map((f) => f.group));
        for (const g of c.agg.groups) await tx.setGroup(id, g.name, { changesRequested: asked.has(g.name) });
      }
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  async approve(actor: Actor, id: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => requestView(await this.setStatus(tx, c, actor, "approved"), c.ws, actor));
  }

  async reject(actor: Actor, id: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => requestView(await this.setStatus(tx, c, actor, "rejected"), c.ws, actor));
  }

  // =========================================================================
  // COMMENTS

  async comment(actor: Actor, id: number, group: string, text: string, visibility: Visibility): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      if (!VISIBILITIES.includes(visibility)) throw new RuleViolation(`${JSON.stringify(visibility)} is not a visibility: public or private`);
      checkUserCanComment(c, actor, visibility);
      if (!c.agg.groups.some((g) => g.name === group)) throw new NotFound(`request ${id} has no group ${JSON.stringify(group)}`);
      const body = boundedText(text, "the comment", false);
      const { request } = c.agg;
      const added = await tx.addComment(id, { group, author: username(actor), text: body, visibility, turn: request.turn });
      await this.record(tx, actor, request, "airlock.comment.add", { visibility, details: { group, comment: added.id, text: body } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /** Deletes one's own comment of the current turn, while one could still write it. */
  async deleteComment(actor: Actor, id: number, commentId: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      const m = c.agg.comments.find((x) => x.id === commentId);
      if (!m) throw new NotFound(`request ${id} has no comment ${commentId}`);
      if (m.author !== username(actor)) throw new PermissionDenied(`comment ${commentId} on request ${id} is ${JSON.stringify(m.author)}'s: only its writer can delete it`);
      if (m.turn !== c.agg.request.turn) throw new RuleViolation(`comment ${commentId} on request ${id} was written in an earlier turn, and stays on the record`);
      checkUserCanComment(c, actor, m.visibility);
      await tx.deleteComment(commentId);
      await this.record(tx, actor, c.agg.request, "airlock.comment.delete", { visibility: m.visibility, details: { group: m.group, comment: commentId } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  /** Makes one's own private comment public, once public comments are allowed (so not while reviews are independent). */
  async makeCommentPublic(actor: Actor, id: number, commentId: number): Promise<RequestView> {
    return this.change(id, actor, async (tx, c) => {
      const m = c.agg.comments.find((x) => x.id === commentId);
      if (!m) throw new NotFound(`request ${id} has no comment ${commentId}`);
      if (m.author !== username(actor)) throw new PermissionDenied(`comment ${commentId} on request ${id} is ${JSON.stringify(m.author)}'s: only its writer can make it public`);
      if (m.visibility === "public") throw new RuleViolation(`comment ${commentId} on request ${id} is already public`);
      checkUserCanComment(c, actor, "public");
      await tx.setCommentVisibility(commentId, "public");
      await this.record(tx, actor, c.agg.request, "airlock.comment.make_public", { details: { group: m.group, comment: commentId } });
      return this.viewOf(tx, id, c.ws, actor);
    });
  }

  // =========================================================================
  // FILES: LOOKING, DOWNLOADING

  /** A request's copy of a file, to view (author, members, checkers) or download (checkers who are not the author); recorded. */
  async openRequestFile(actor: Actor, id: number, p: string, purpose: "view" | "download"): Promise<OpenedFile> {
    return this.change(id, actor, async (tx, c) => {
      if (purpose === "download") checkUserCanDownload(c, actor);
      else checkUserCanView(c, actor);
      const file = fileIn(c.agg, p);
      const role = roleOf(c.agg.request.author, actor, c.ws);
      await this.record(tx, actor, c.agg.request, purpose === "download" ? "airlock.request_file.download" : "airlock.request_file.view", { path: p, visibility: role === "reviewer" ? "private" : "public" });
      return { name: p, file: objectPath(this.paths, file.sha256), sha256: file.sha256, size: file.size };
    });
  }

  /**
   * The copy of a request's file that checkers last voted on, when the file
   * has changed since (updated after a return): what a resubmission is
   * compared with. Undefined when the file was never reviewed in other bytes.
   * Anyone who may see the request may see it; the author wrote both.
   */
  async reviewedBefore(actor: Actor, id: number, p: string): Promise<(OpenedFile & { reviewed: string }) | undefined> {
    username(actor);
    const ws = await this.requestWorkspace(id);
    return this.store.read(async (tx) => {
      const agg = await this.load(tx, id);
      checkUserCanView({ agg, ws }, actor);
      const file = fileIn(agg, p);
      const voted = (await tx.requestEvents(id)).filter(
        (e) => e.path === p && (e.type === "airlock.file.approve" || e.type === "airlock.file.request_changes") && typeof e.details.sha256 === "string" && e.details.sha256 !== file.sha256,
      );
      const last = voted.at(-1);
      if (!last) return undefined;
      const sha256 = last.details.sha256 as string;
      const bytes = readObject(this.paths, sha256, `the reviewed copy of ${ws.name}/${p} (request ${id})`);
      return { name: p, file: objectPath(this.paths, sha256), sha256, size: bytes.length, reviewed: last.created };
    });
  }

  /** A workspace's level 4 file, to view (members, checkers) or download (checkers only); recorded. */
  async openWorkspaceFile(actor: Actor, workspace: string, p: string, purpose: "view" | "download"): Promise<OpenedFile> {
    const name = username(actor);
    const ws = await this.workspace(workspace);
    if (purpose === "download") checkUserCanDownloadWorkspace(actor, ws);
    else checkUserCanViewWorkspace(actor, ws);
    checkRelativePath(p);
    const entry = level4Entry(readWorkspaceManifest(this.paths, ws.name), ws.name, p);
    return this.write(async (tx) => {
      await tx.addEvent({ request: null, type: purpose === "download" ? "airlock.workspace_file.download" : "airlock.workspace_file.view", username: name, workspace: ws.name, path: p, visibility: "public", turn: 0, details: {} });
      return { name: p, file: path.join(level4Dir(this.paths, ws.name), ...p.split("/")), sha256: entry.sha256, size: entry.size };
    });
  }

  /**
   * The workspace's level 4 files, each against the viewer's active request and
   * past releases: released (these bytes were released), under review (the
   * request holds these bytes), updated (the request holds other bytes),
   * withdrawn (from the request), or unreleased.
   */
  async workspaceFiles(actor: Actor, workspace: string): Promise<WorkspaceFile[]> {
    const name = username(actor);
    const ws = await this.workspace(workspace);
    checkUserCanViewWorkspace(actor, ws);
    const entries = level4Entries(readWorkspaceManifest(this.paths, ws.name));
    const { released, agg } = await this.store.read(async (tx) => {
      const active = await tx.activeRequest(ws.name, name, ACTIVE_STATUSES);
      return { released: await tx.releasedFiles(ws.name), agg: active ? await this.load(tx, active.id) : undefined };
    });
    return entries.map(([p, e]) => {
      const inRequest = agg?.files.find((f) => f.path === p);
      let status: WorkspaceFileStatus = "unreleased";
      if (released.some((r) => r.path === p && r.sha256 === e.sha256)) status = "released";
      else if (inRequest) status = inRequest.kind === "withdrawn" ? "withdrawn" : inRequest.sha256 === e.sha256 ? "under_review" : "updated";
      return { path: p, size: e.size, sha256: e.sha256, action: e.action, jobId: e.job_id, commit: e.commit, status, request: inRequest ? agg!.request.id : null };
    });
  }

  // =========================================================================
  // RELEASE (the uploader)

  /**
   * What the uploader sends for an approved request: each output file, its
   * bytes checked against its hash, its type checked again, its two approvals
   * counted again. Nothing leaves a blocked workspace.
   */
  async releaseList(actor: Actor, id: number): Promise<ReleaseItem[]> {
    const ws = await this.requestWorkspace(id);
    return this.store.read(async (tx) => {
      const agg = await this.load(tx, id);
      const c = { agg, ws };
      checkUploader(c, actor);
      const blocked = blockedReason(ws);
      if (blocked) throw new Blocked(`nothing of request ${id} may be released now: ${blocked}`);
      checkReleasable(c);
      return outputFiles(agg).map((f) => {
        readObject(this.paths, f.sha256, `${ws.name}/${f.path} (request ${id})`);
        return { name: f.path, file: objectPath(this.paths, f.sha256), sha256: f.sha256, size: f.size, date: f.updated, released: f.released !== null };
      });
    });
  }

  /**
   * The uploader's report that the job server accepted a file, with the sha256
   * the job server computed of what it received. The file must have two
   * approvals from checkers who are not the author, on these very bytes. Once
   * every output file is accepted, the request is released (through the
   * transition table, which counts the approvals again) and its tables go into
   * the project's ledger. Reporting a file again changes nothing, so the
   * uploader may retry.
   */
  async markReleased(actor: Actor, id: number, p: string, received: { sha256: string }): Promise<RequestView> {
    const ws = await this.requestWorkspace(id);
    return this.write(async (tx) => {
      const agg = await this.load(tx, id);
      const c = { agg, ws };
      const file = fileIn(agg, p);
      if (isSystem(actor) && agg.request.status === "released" && file.released !== null && file.sha256 === received.sha256) return requestView(agg, ws, actor);
      checkUploader(c, actor);
      if (file.kind !== "output") throw new RuleViolation(`${JSON.stringify(p)} is a ${file.kind} file of request ${id}: only output files are released`);
      if (received.sha256 !== file.sha256) throw new ContentMismatch(`the job server received bytes hashing to ${received.sha256} for ${JSON.stringify(p)} of request ${id}, but the approved copy hashes to ${file.sha256}: upload it again`);
      const approvedBy = approvals(agg, file);
      if (approvedBy.length < 2) throw new RuleViolation(`${JSON.stringify(p)} of request ${id} cannot be released: it has ${approvedBy.length} approval(s) of its current content from checkers who are not the author, and needs two`);
      const problem = CONDITIONS.level4_types(c);
      if (problem) throw new RuleViolation(`cannot release files of request ${id}: ${problem}`);
      if (file.released === null) {
        await tx.markReleased(file.id);
        await this.record(tx, actor, agg.request, "airlock.file.upload", { path: p, details: { sha256: file.sha256, approvedBy } });
      }
      let after = await this.load(tx, id);
      if (outputFiles(after).some((f) => f.released === null)) return requestView(after, ws, actor);
      after = await this.setStatus(tx, { agg: after, ws }, actor, "released");
      // Recorded before the commit: should the commit fail, the ledger holds a
      // table that was not released, which only makes later checks stricter.
      const when = new Date(tx.now);
      for (const f of outputFiles(after)) {
        const ledger = recordInLedger(this.paths, ws.project.number, ws.name, f, when) ?? null;
        await this.record(tx, actor, after.request, "airlock.file.release", { path: f.path, details: { sha256: f.sha256, approvedBy: approvals(after, f), ledger } });
      }
      return requestView(after, ws, actor);
    });
  }
}

/** The release's conditions that hold before any upload: approvals and file types (all_uploaded is what the upload is for). */
function checkReleasable(c: RequestContext): void {
  const problems = (["has_output", "all_approved", "level4_types"] as const).map((k) => CONDITIONS[k](c)).filter((x): x is string => x !== undefined);
  if (problems.length > 0) throw new RuleViolation(`request ${c.agg.request.id} cannot be released: ${problems.join("; ")}`);
}
