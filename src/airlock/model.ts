// The release request as the airlock's logic sees it: one aggregate (the
// request, its groups, files, votes, submitted reviews and comments) loaded
// whole, judged by pure functions, then written back by the store. Nothing here
// reads a file or a database.
//
// Turns. A request alternates between its author and its reviewers; each
// change of hands starts a new turn. Turn 0 is the author's draft (pending);
// submitting starts turn 1, the reviewers'; returning starts turn 2, the
// author's again; and so on. So odd turns are the reviewers' and even turns the
// author's. Votes, submitted reviews and comments carry the turn they were made
// in, which is what blinding and the "this turn" rules look at.

import type { ProjectRef, Principal } from "../jobserver/permissions.js";
import type { Failure, Status } from "../sdc/check.js";

// ---------------------------------------------------------------------------
// VALUES

/** A request's states; who holds each and how it moves between them is workflow.ts's. */
export const REQUEST_STATUSES = ["pending", "submitted", "partially_reviewed", "reviewed", "returned", "approved", "released", "rejected", "withdrawn"] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** Output files are voted on and released; supporting files give context only; withdrawn files stay for the record. */
export const FILE_KINDS = ["output", "supporting", "withdrawn"] as const;
export type FileKind = (typeof FILE_KINDS)[number];

export const VOTES = ["approved", "changes_requested", "undecided"] as const;
export type VoteValue = (typeof VOTES)[number];

/** Private: output checkers only. */
export const VISIBILITIES = ["public", "private"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** A file's decision, from the votes of submitted reviews only. */
export const DECISIONS = ["incomplete", "approved", "conflicted", "changes_requested"] as const;
export type Decision = (typeof DECISIONS)[number];

// ---------------------------------------------------------------------------
// WHO ACTS, AND ON WHAT

/**
 * The uploader: the only actor that is not a person. It is one object, compared
 * by identity, so nothing decoded from a request (a user named "system", say)
 * can pass for it.
 */
export class SystemActor {
  static readonly instance = new SystemActor();
  // A private member makes the type nominal: no Principal type-checks as one.
  private readonly kind = "system";
  private constructor() {}
}
export const SYSTEM = SystemActor.instance;

export type Actor = Principal | SystemActor;

export const isSystem = (a: Actor): a is SystemActor => a === SYSTEM;

/** What the job server says of a workspace, at the time of the call: the airlock keeps no copy. */
export interface WorkspaceInfo {
  name: string;
  project: ProjectRef;
  /** An archived workspace runs no jobs, and its requests can no longer be created or changed. */
  archived: boolean;
}

/** Asks the job server about a workspace; undefined when there is no such workspace. */
export type WorkspaceLookup = (name: string) => Promise<WorkspaceInfo | undefined>;

// ---------------------------------------------------------------------------
// THE AGGREGATE

export interface ReleaseRequest {
  id: number;
  workspace: string;
  project: number;
  author: string;
  status: RequestStatus;
  turn: number;
  created: string;
  updated: string;
}

export interface FileGroup {
  name: string;
  /** Filled by the author: what the files are and how they were made. */
  context: string;
  /** Filled by the author: the disclosure controls applied. */
  controls: string;
  /** Set when the request was last returned: some file of the group had changes requested, so resubmitting needs a public answer. */
  changesRequested: boolean;
}

/**
 * The automated disclosure check of a file (src/sdc/check.ts), kept for the
 * checkers. `error`: the checker could not judge the file (a CSV that does not
 * parse, a broken declaration or ledger); `message` says why. Like `review`,
 * it leaves the judgement to the people.
 */
export interface CheckVerdict {
  status: Status | "error";
  failures: Failure[];
  message?: string;
  checked: string;
}

export interface RequestFile {
  id: number;
  group: string;
  /** Relative to the workspace, with `/`. */
  path: string;
  kind: FileKind;
  /** Of the request's copy, which is stored under this name and never changes. */
  sha256: string;
  size: number;
  action: string;
  jobId: string;
  commit: string | null;
  check: CheckVerdict | null;
  /** The disclosure declaration found beside the file when it was added (JSON text), for the ledger at release. */
  declaration: string | null;
  added: string;
  updated: string;
  /** When the job server accepted the file's bytes. */
  released: string | null;
}

export interface Vote {
  file: number;
  reviewer: string;
  vote: VoteValue;
  /** The content voted on: a vote never carries over to other bytes. */
  sha256: string;
  turn: number;
  updated: string;
}

export interface ReviewSubmission {
  reviewer: string;
  turn: number;
  submitted: string;
}

export interface Comment {
  id: number;
  group: string;
  author: string;
  text: string;
  visibility: Visibility;
  turn: number;
  created: string;
}

export interface RequestAggregate {
  request: ReleaseRequest;
  groups: FileGroup[];
  files: RequestFile[];
  votes: Vote[];
  reviews: ReviewSubmission[];
  comments: Comment[];
}

// ---------------------------------------------------------------------------
// TURNS AND DECISIONS

export const isReviewerTurn = (turn: number): boolean => turn % 2 === 1;

/** The latest reviewers' turn: the one whose submitted reviews decide the files (-1 before the first submission). */
export function decisionTurn(request: ReleaseRequest): number {
  return isReviewerTurn(request.turn) ? request.turn : request.turn - 1;
}

export const outputFiles = (agg: RequestAggregate): RequestFile[] => agg.files.filter((f) => f.kind === "output");

/** The reviewers who submitted a review in `turn` (the decision turn by default). */
export function submittedReviewers(agg: RequestAggregate, turn = decisionTurn(agg.request)): Set<string> {
  return new Set(agg.reviews.filter((r) => r.turn === turn).map((r) => r.reviewer));
}

/**
 * The votes that count for a file: those of reviewers whose review of the
 * decision turn is submitted, cast on the file's current bytes, by someone
 * other than the author. The last two hold by construction (votes are reset
 * when a file changes, and the author cannot vote); they are checked again
 * here because release depends on them.
 */
export function countedVotes(agg: RequestAggregate, file: RequestFile): Vote[] {
  const submitted = submittedReviewers(agg);
  const seen = new Set<string>();
  return agg.votes.filter((v) => {
    if (v.file !== file.id || v.sha256 !== file.sha256 || v.reviewer === agg.request.author || !submitted.has(v.reviewer) || seen.has(v.reviewer)) return false;
    seen.add(v.reviewer);
    return v.vote !== "undecided";
  });
}

/** The distinct reviewers who approved the file's current bytes in a submitted review. */
export function approvals(agg: RequestAggregate, file: RequestFile): string[] {
  return countedVotes(agg, file)
    .filter((v) => v.vote === "approved")
    .map((v) => v.reviewer);
}

/**
 * Fewer than two counted votes: incomplete. Two or more approvals: approved,
 * whatever else was voted (so a third checker can unblock a conflict). Both
 * kinds of vote otherwise: conflicted. Else changes requested.
 */
export function fileDecision(agg: RequestAggregate, file: RequestFile): Decision {
  const votes = countedVotes(agg, file);
  if (votes.length < 2) return "incomplete";
  const approved = votes.filter((v) => v.vote === "approved").length;
  if (approved >= 2) return "approved";
  return approved > 0 ? "conflicted" : "changes_requested";
}

/** Groups holding at least one output or supporting file. */
export function nonEmptyGroups(agg: RequestAggregate): FileGroup[] {
  const used = new Set(agg.files.filter((f) => f.kind !== "withdrawn").map((f) => f.group));
  return agg.groups.filter((g) => used.has(g.name));
}
