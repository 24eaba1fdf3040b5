// What one person sees of a request: the blinding and visibility rules of
// shared/reference/airlock.md, applied in one function (canSee) to votes,
// comments and audit events alike.

import {
  type Actor,
  type Comment,
  type Decision,
  type FileGroup,
  type ReleaseRequest,
  type RequestAggregate,
  type RequestFile,
  type Visibility,
  type Vote,
  type WorkspaceInfo,
  fileDecision,
  isSystem,
} from "./model.js";
import { type RequestRole, roleOf } from "./permissions.js";
import { userCanComment, userCanDownload, userCanEdit, userCanReview } from "./rules.js";
import { type RequestStatus, STATUS_OWNER, TRANSITIONS, isBlinded, userCanTransition } from "./workflow.js";

/** A vote, comment or event: who made it, for whom, and when. */
export interface Visible {
  by: string;
  visibility: Visibility;
  turn: number;
}

/**
 * - Everyone sees their own items; the uploader sees everything.
 * - Output checkers see items of earlier turns, and those of this turn once
 *   reviews are no longer independent: while a request is submitted or
 *   partially reviewed, a checker sees only their own votes and comments.
 * - The author and the project's members see public items only, and not those
 *   of a reviewers' turn still in progress: what the checkers say reaches the
 *   author when the request comes back (or ends).
 * - Nobody else sees anything.
 */
export function canSee(request: ReleaseRequest, role: RequestRole, username: string, item: Visible): boolean {
  if (role === "system") return true;
  if (role === "other") return false;
  if (item.by === username) return true;
  if (role === "reviewer") return item.turn < request.turn || !isBlinded(request.status);
  if (item.visibility !== "public") return false;
  return item.turn < request.turn || STATUS_OWNER[request.status] !== "reviewer";
}

/** Whether the viewer sees the files' decisions: checkers once reviews are in, authors once the reviewers' turn is over. */
export function seesDecisions(request: ReleaseRequest, role: RequestRole): boolean {
  if (role === "system") return true;
  if (role === "reviewer") return !isBlinded(request.status);
  if (role === "author" || role === "member") return STATUS_OWNER[request.status] !== "reviewer";
  return false;
}

export interface FileView extends RequestFile {
  /** The votes this viewer may see. */
  votes: Vote[];
  /** Null while hidden from this viewer. */
  decision: Decision | null;
}

export interface GroupView extends FileGroup {
  comments: Comment[];
}

export interface RequestView {
  request: ReleaseRequest;
  role: RequestRole;
  groups: GroupView[];
  files: FileView[];
  /** What the viewer may do now (for pages; every operation checks again). */
  may: {
    edit: boolean;
    review: boolean;
    download: boolean;
    comment: Record<Visibility, boolean>;
    /** The statuses they may move it to now (submitting assumes they will confirm). */
    moveTo: RequestStatus[];
  };
}

export function requestView(agg: RequestAggregate, ws: WorkspaceInfo, actor: Actor): RequestView {
  const { request } = agg;
  const role = roleOf(request.author, actor, ws);
  const username = isSystem(actor) ? "system" : actor.username;
  const sees = (item: Visible) => canSee(request, role, username, item);
  const decisions = seesDecisions(request, role);
  const c = { agg, ws };
  return {
    request,
    role,
    groups: agg.groups.map((g) => ({ ...g, comments: agg.comments.filter((m) => m.group === g.name && sees({ by: m.author, visibility: m.visibility, turn: m.turn })) })),
    files: agg.files.map((f) => ({
      ...f,
      votes: agg.votes.filter((v) => v.file === f.id && sees({ by: v.reviewer, visibility: "private", turn: v.turn })),
      decision: decisions && f.kind === "output" ? fileDecision(agg, f) : null,
    })),
    may: {
      edit: userCanEdit(c, actor),
      review: userCanReview(c, actor),
      download: userCanDownload(c, actor),
      comment: { public: userCanComment(c, actor, "public"), private: userCanComment(c, actor, "private") },
      moveTo: (Object.keys(TRANSITIONS[request.status]) as RequestStatus[]).filter((to) => userCanTransition({ ...c, confirmed: true }, actor, to)),
    },
  };
}
