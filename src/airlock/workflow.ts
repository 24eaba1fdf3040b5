// The release-request workflow as data (shared/reference/airlock.md): the
// states, who owns each, the moves between them with the audit event and the
// conditions of each, and the one function, checkTransition, that judges a
// move. Every change of status goes through it (service.ts: setStatus).
//
// The owner of a state is the only party who may move a request out of it: the
// author in pending and returned; an output checker who is not the author in
// submitted, partially_reviewed and reviewed; the system (the uploader) in
// approved. So the table needs no "who" column: it is STATUS_OWNER[from].
//
// The stored values (statuses, event names) are in the database and the audit
// log: renaming one needs a migration of the first and leaves the second as it
// was, so don't.

import { LEVEL4_EXTENSIONS } from "../pipeline/project.js";
import { Blocked, InvalidTransition, PermissionDenied, RuleViolation } from "./errors.js";
import { type Actor, type RequestAggregate, type RequestStatus, type WorkspaceInfo, REQUEST_STATUSES, fileDecision, nonEmptyGroups, outputFiles, submittedReviewers } from "./model.js";
import { blockedReason, describeActor, roleOf } from "./permissions.js";

// ---------------------------------------------------------------------------
// STATES AND OWNERS

export { REQUEST_STATUSES, type RequestStatus };

export const OWNERS = ["author", "reviewer", "system"] as const;
export type Owner = (typeof OWNERS)[number];

/** Every status has exactly one owner (the Record type makes a missing one a compile error). */
export const STATUS_OWNER: Readonly<Record<RequestStatus, Owner>> = {
  pending: "author",
  returned: "author",
  submitted: "reviewer",
  partially_reviewed: "reviewer",
  reviewed: "reviewer",
  approved: "system",
  released: "system",
  rejected: "system",
  withdrawn: "system",
};

/** While reviews are independent, each reviewer sees only their own votes and comments. */
export const BLINDED_STATUSES: readonly RequestStatus[] = ["submitted", "partially_reviewed"];

// ---------------------------------------------------------------------------
// AUDIT EVENTS

/** Every event the airlock records, in its own table and in the audit log. */
export const AUDIT_EVENTS = [
  "airlock.workspace_file.view",
  "airlock.workspace_file.download",
  "airlock.request_file.view",
  "airlock.request_file.download",
  "airlock.request.create",
  "airlock.request.submit",
  "airlock.request.resubmit",
  "airlock.request.withdraw",
  "airlock.request.review",
  "airlock.request.partially_reviewed",
  "airlock.request.reviewed",
  "airlock.request.approve",
  "airlock.request.reject",
  "airlock.request.return",
  "airlock.request.early_return",
  "airlock.request.release",
  "airlock.group.edit",
  "airlock.comment.add",
  "airlock.comment.delete",
  "airlock.comment.make_public",
  "airlock.file.add",
  "airlock.file.update",
  "airlock.file.change",
  "airlock.file.withdraw",
  "airlock.file.remove",
  "airlock.file.approve",
  "airlock.file.request_changes",
  "airlock.file.review_reset",
  "airlock.file.upload",
  "airlock.file.release",
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

// ---------------------------------------------------------------------------
// TRANSITIONS

/** What must hold of the request (and, for `confirmed`, of the call) for a move. */
export type Condition =
  | "confirmed"
  | "has_output"
  | "groups_described"
  | "changes_answered"
  | "one_review"
  | "two_reviews"
  | "all_approved"
  | "returns_explained"
  | "level4_types"
  | "all_uploaded";

export interface Transition {
  event: AuditEvent;
  requires: readonly Condition[];
}

/**
 * from → to → the move. A pair that is absent is not a move. Early return
 * (before both reviews are in) needs no comment: its votes and comments are
 * reset, and the checker explains once the request is with the author.
 */
export const TRANSITIONS: Readonly<Record<RequestStatus, Readonly<Partial<Record<RequestStatus, Transition>>>>> = {
  pending: {
    submitted: { event: "airlock.request.submit", requires: ["confirmed", "has_output", "groups_described"] },
    withdrawn: { event: "airlock.request.withdraw", requires: [] },
  },
  submitted: {
    partially_reviewed: { event: "airlock.request.partially_reviewed", requires: ["one_review"] },
    returned: { event: "airlock.request.early_return", requires: [] },
  },
  partially_reviewed: {
    reviewed: { event: "airlock.request.reviewed", requires: ["two_reviews"] },
    returned: { event: "airlock.request.early_return", requires: [] },
  },
  reviewed: {
    approved: { event: "airlock.request.approve", requires: ["has_output", "all_approved"] },
    rejected: { event: "airlock.request.reject", requires: [] },
    returned: { event: "airlock.request.return", requires: ["returns_explained"] },
  },
  returned: {
    submitted: { event: "airlock.request.resubmit", requires: ["confirmed", "has_output", "groups_described", "changes_answered"] },
    withdrawn: { event: "airlock.request.withdraw", requires: [] },
  },
  // Release is judged again from the votes, not from the approval that led here.
  approved: {
    released: { event: "airlock.request.release", requires: ["has_output", "all_approved", "level4_types", "all_uploaded"] },
  },
  released: {},
  rejected: {},
  withdrawn: {},
};

/** The statuses a request can still leave: "active" ones, of which a user has at most one per workspace. */
export const ACTIVE_STATUSES: readonly RequestStatus[] = REQUEST_STATUSES.filter((s) => Object.keys(TRANSITIONS[s]).length > 0);

export const isActive = (s: RequestStatus): boolean => ACTIVE_STATUSES.includes(s);
export const isBlinded = (s: RequestStatus): boolean => BLINDED_STATUSES.includes(s);

/** A move between the author's hands and the reviewers' starts a new turn. */
export function advancesTurn(from: RequestStatus, to: RequestStatus): boolean {
  const a = STATUS_OWNER[from];
  const b = STATUS_OWNER[to];
  return a !== b && a !== "system" && b !== "system";
}

// ---------------------------------------------------------------------------
// CONDITIONS

export interface TransitionContext {
  agg: RequestAggregate;
  ws: WorkspaceInfo;
  /** Submitting: the author confirms the outputs are aggregated, small numbers suppressed, and nothing identifies small areas or GP practices. */
  confirmed?: boolean;
}

const quoted = (names: readonly string[]): string => names.map((n) => JSON.stringify(n)).join(", ");

/** Has someone (matching `by`) written a public comment on the group in the current turn? */
function publicCommentThisTurn(c: TransitionContext, group: string, by: (author: string) => boolean): boolean {
  return c.agg.comments.some((m) => m.group === group && m.visibility === "public" && m.turn === c.agg.request.turn && by(m.author));
}

/** Each condition's reason for refusing, or undefined when it holds. */
export const CONDITIONS: Readonly<Record<Condition, (c: TransitionContext) => string | undefined>> = {
  confirmed: (c) =>
    c.confirmed === true ? undefined : "the author must confirm that the outputs are aggregated, that small numbers are suppressed, and that nothing identifies small areas or GP practices",
  has_output: (c) => (outputFiles(c.agg).length > 0 ? undefined : "the request has no output files (supporting files are never released)"),
  groups_described: (c) => {
    const missing = nonEmptyGroups(c.agg).filter((g) => g.context.trim() === "" || g.controls.trim() === "");
    return missing.length === 0 ? undefined : `the group${missing.length > 1 ? "s" : ""} ${quoted(missing.map((g) => g.name))} need${missing.length > 1 ? "" : "s"} both context and controls`;
  },
  changes_answered: (c) => {
    const author = c.agg.request.author;
    const missing = c.agg.groups.filter((g) => g.changesRequested && !publicCommentThisTurn(c, g.name, (a) => a === author));
    return missing.length === 0 ? undefined : `changes were requested in ${quoted(missing.map((g) => g.name))}: the author must answer each with a public comment before resubmitting`;
  },
  one_review: (c) => (submittedReviewers(c.agg, c.agg.request.turn).size >= 1 ? undefined : "no review has been submitted this turn"),
  two_reviews: (c) => {
    const n = submittedReviewers(c.agg, c.agg.request.turn).size;
    return n >= 2 ? undefined : `${n} review${n === 1 ? " has" : "s have"} been submitted this turn, and two independent reviews are needed`;
  },
  all_approved: (c) => {
    const pending = outputFiles(c.agg)
      .map((f) => [f.path, fileDecision(c.agg, f)] as const)
      .filter(([, d]) => d !== "approved");
    return pending.length === 0 ? undefined : `not every output file has two approvals from output checkers: ${pending.map(([p, d]) => `${JSON.stringify(p)} is ${d.replace("_", " ")}`).join(", ")}`;
  },
  returns_explained: (c) => {
    const author = c.agg.request.author;
    const notApproved = new Set(outputFiles(c.agg).filter((f) => fileDecision(c.agg, f) !== "approved").map((f) => f.group));
    const missing = [...notApproved].filter((g) => !publicCommentThisTurn(c, g, (a) => a !== author));
    return missing.length === 0 ? undefined : `the group${missing.length > 1 ? "s" : ""} ${quoted(missing)} ha${missing.length > 1 ? "ve" : "s"} files not approved, and need${missing.length > 1 ? "" : "s"} a public comment from a checker this turn saying why`;
  },
  level4_types: (c) => {
    const bad = outputFiles(c.agg).filter((f) => !LEVEL4_EXTENSIONS.includes(extension(f.path)));
    return bad.length === 0 ? undefined : `${quoted(bad.map((f) => f.path))}: not a level 4 file type (${LEVEL4_EXTENSIONS.join(" ")})`;
  },
  all_uploaded: (c) => {
    const waiting = outputFiles(c.agg).filter((f) => f.released === null);
    return waiting.length === 0 ? undefined : `the job server has not yet accepted ${quoted(waiting.map((f) => f.path))}`;
  },
};

export function extension(p: string): string {
  const base = p.slice(p.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot).toLowerCase();
}

// ---------------------------------------------------------------------------
// THE ONE JUDGE

const OWNER_RULE: Readonly<Record<Owner, string>> = {
  author: "is in its author's hands, and only the author may move it",
  reviewer: "is with the reviewers, and only an output checker who is not its author may move it",
  system: "is with the system, and only the uploader moves it on",
};

/**
 * Throws unless `actor` may move the request to `to` now, in this order: the
 * table must have the move (InvalidTransition); people may not change requests
 * of an archived workspace or a project no longer ongoing (Blocked; the
 * uploader still records what the job server has already accepted); the actor
 * must be the owner of the current state (PermissionDenied); every condition
 * of the move must hold (RuleViolation, listing all that do not). Returns the
 * move.
 */
export function checkTransition(c: TransitionContext, actor: Actor, to: RequestStatus): Transition {
  const { request } = c.agg;
  const from = request.status;
  const where = `cannot change request ${request.id} (workspace ${request.workspace}) from ${from} to ${to}`;
  const move = TRANSITIONS[from][to];
  if (move === undefined) {
    const next = Object.keys(TRANSITIONS[from]);
    throw new InvalidTransition(`${where}: ${next.length === 0 ? `${from} is final` : `a ${from} request can only become ${next.join(" or ")}`}`);
  }
  const role = roleOf(request.author, actor, c.ws);
  const blocked = role === "system" ? undefined : blockedReason(c.ws);
  if (blocked !== undefined) throw new Blocked(`${where}: ${blocked}; its requests can be viewed but not changed`);
  const owner = STATUS_OWNER[from];
  if (role !== owner) throw new PermissionDenied(`${where}: ${describeActor(request.author, actor, c.ws)} may not, as a ${from} request ${OWNER_RULE[owner]}`);
  const unmet = move.requires.map((k) => CONDITIONS[k](c)).filter((r): r is string => r !== undefined);
  if (unmet.length > 0) throw new RuleViolation(`${where}: ${unmet.join("; ")}`);
  return move;
}

export function userCanTransition(c: TransitionContext, actor: Actor, to: RequestStatus): boolean {
  try {
    checkTransition(c, actor, to);
    return true;
  } catch (e) {
    if (e instanceof InvalidTransition || e instanceof Blocked || e instanceof PermissionDenied || e instanceof RuleViolation) return false;
    throw e;
  }
}

/** The workflow as a Mermaid state diagram, drawn from the tables (so it cannot drift from them). */
export function stateDiagram(): string {
  const lines = ["stateDiagram-v2", "  [*] --> pending"];
  for (const from of REQUEST_STATUSES) {
    for (const [to, move] of Object.entries(TRANSITIONS[from])) {
      const label = [STATUS_OWNER[from], ...move!.requires].join(", ");
      lines.push(`  ${from} --> ${to}: ${label}`);
    }
    if (!isActive(from)) lines.push(`  ${from} --> [*]`);
  }
  return `${lines.join("\n")}\n`;
}
