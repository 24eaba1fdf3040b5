// What someone may do to a request besides moving it between states: look at
// it, download its files, edit it, review it, comment on it. Each rule is a
// pair: checkUserCanX throws the named error, userCanX answers yes or no (for
// pages deciding which buttons to show). Both come from one whyNotX, so they
// cannot disagree. Who the actor is comes from permissions.ts, what a state
// allows from workflow.ts.

import { AirlockError, Blocked, PermissionDenied, RuleViolation } from "./errors.js";
import { type Actor, type RequestAggregate, type Visibility, type WorkspaceInfo, isSystem } from "./model.js";
import { blockedReason, describeActor, hasProjectAccess, isOutputChecker, roleOf } from "./permissions.js";
import { STATUS_OWNER, isActive, isBlinded } from "./workflow.js";

export interface RequestContext {
  agg: RequestAggregate;
  ws: WorkspaceInfo;
}

type Why = AirlockError | undefined;

function pair<A extends unknown[]>(whyNot: (...args: A) => Why): [check: (...args: A) => void, allowed: (...args: A) => boolean] {
  return [
    (...args) => {
      const e = whyNot(...args);
      if (e !== undefined) throw e;
    },
    (...args) => whyNot(...args) === undefined,
  ];
}

const label = (c: RequestContext): string => `request ${c.agg.request.id} (workspace ${c.agg.request.workspace})`;
const who = (c: RequestContext, actor: Actor): string => describeActor(c.agg.request.author, actor, c.ws);
const role = (c: RequestContext, actor: Actor) => roleOf(c.agg.request.author, actor, c.ws);

function blocked(c: RequestContext, what: string): Why {
  const why = blockedReason(c.ws);
  return why === undefined ? undefined : new Blocked(`cannot ${what} ${label(c)}: ${why}; its requests can be viewed but not changed`);
}

// ---------------------------------------------------------------------------
// LOOKING

/**
 * The author and the project's members see a request from the start; output
 * checkers once it has been submitted (turn 1 on), so a draft stays private;
 * the uploader always.
 */
function whyNotView(c: RequestContext, actor: Actor): Why {
  switch (role(c, actor)) {
    case "author":
    case "member":
    case "system":
      return undefined;
    case "reviewer":
      return c.agg.request.turn > 0 ? undefined : new PermissionDenied(`${who(c, actor)} cannot see ${label(c)}: it has not been submitted yet`);
    default:
      return new PermissionDenied(`${who(c, actor)} cannot see ${label(c)}`);
  }
}
export const [checkUserCanView, userCanView] = pair(whyNotView);

/** Only output checkers who are not the author download a request's files; never the author. */
function whyNotDownload(c: RequestContext, actor: Actor): Why {
  const r = role(c, actor);
  if (r === "author") return new PermissionDenied(`${who(c, actor)} cannot download files of ${label(c)}: authors never download their own request's files, only output checkers who are not the author do`);
  if (r !== "reviewer") return new PermissionDenied(`${who(c, actor)} cannot download files of ${label(c)}: only output checkers who are not the author do`);
  return whyNotView(c, actor);
}
export const [checkUserCanDownload, userCanDownload] = pair(whyNotDownload);

// ---------------------------------------------------------------------------
// THE AUTHOR'S CHANGES (files, groups' context and controls)

function whyNotEdit(c: RequestContext, actor: Actor): Why {
  const b = blocked(c, "change");
  if (b) return b;
  if (role(c, actor) !== "author") return new PermissionDenied(`${who(c, actor)} cannot change the files or groups of ${label(c)}: only its author can`);
  const s = c.agg.request.status;
  if (STATUS_OWNER[s] !== "author") return new RuleViolation(`cannot change the files or groups of ${label(c)}: it is ${s}, and files and groups change only while it is pending or returned`);
  return undefined;
}
export const [checkUserCanEdit, userCanEdit] = pair(whyNotEdit);

// ---------------------------------------------------------------------------
// REVIEWING (votes, and submitting one's review)

function whyNotReview(c: RequestContext, actor: Actor): Why {
  const b = blocked(c, "review");
  if (b) return b;
  const r = role(c, actor);
  if (r === "author") return new PermissionDenied(`${who(c, actor)} cannot review ${label(c)}: nobody reviews their own request`);
  if (r !== "reviewer") return new PermissionDenied(`${who(c, actor)} cannot review ${label(c)}: only output checkers review`);
  const s = c.agg.request.status;
  if (STATUS_OWNER[s] !== "reviewer") return new RuleViolation(`cannot review ${label(c)}: it is ${s}, and reviews happen while it is submitted, partially reviewed or reviewed`);
  const name = (actor as { username: string }).username;
  if (c.agg.reviews.some((v) => v.reviewer === name && v.turn === c.agg.request.turn)) {
    return new RuleViolation(`${who(c, actor)} has already submitted a review of ${label(c)} this turn, and votes do not change after that`);
  }
  return undefined;
}
export const [checkUserCanReview, userCanReview] = pair(whyNotReview);

// ---------------------------------------------------------------------------
// COMMENTING

/**
 * Authors write public comments while the request is in their hands. Output
 * checkers write private comments while it is with them or returned; public
 * ones too, except while reviews are independent (submitted, partially
 * reviewed): a public comment is for the author, and what the reviewers tell
 * the author is settled only once both reviews are in. Nobody comments once a
 * request has left the workflow, nor in a workspace that is blocked.
 */
function whyNotComment(c: RequestContext, actor: Actor, visibility: Visibility): Why {
  const b = blocked(c, "comment on");
  if (b) return b;
  const s = c.agg.request.status;
  const r = role(c, actor);
  if (r === "author") {
    if (visibility !== "public") return new PermissionDenied(`${who(c, actor)} cannot write a private comment on ${label(c)}: private comments are for output checkers, and authors write public ones`);
    if (STATUS_OWNER[s] !== "author") return new RuleViolation(`cannot comment on ${label(c)}: it is ${s}, and its author comments while it is pending or returned`);
    return undefined;
  }
  if (r === "reviewer") {
    const view = whyNotView(c, actor);
    if (view) return view;
    if (!isActive(s) || s === "approved") return new RuleViolation(`cannot comment on ${label(c)}: it is ${s}`);
    if (visibility === "public" && isBlinded(s)) return new RuleViolation(`cannot write a public comment on ${label(c)} while reviews are independent (it is ${s}): write a private one, and make it public once both reviews are in`);
    return undefined;
  }
  return new PermissionDenied(`${who(c, actor)} cannot comment on ${label(c)}: only its author and output checkers can`);
}
export const [checkUserCanComment, userCanComment] = pair(whyNotComment);

// ---------------------------------------------------------------------------
// WORKSPACES AND THE UPLOADER

/** Anyone with access to the project's level 4 outputs through a project role starts requests, while the workspace is not blocked. */
function whyNotCreate(actor: Actor, ws: WorkspaceInfo): Why {
  // Blocked first: in a finished project nobody has level 4 access any more, and "it is completed" is the useful answer.
  const why = blockedReason(ws);
  if (why !== undefined) return new Blocked(`cannot create or change requests in workspace ${ws.name}: ${why}`);
  if (isSystem(actor) || !hasProjectAccess(actor, ws.project)) {
    const name = isSystem(actor) ? "the uploader" : JSON.stringify(actor.username);
    return new PermissionDenied(`${name} cannot request releases from workspace ${ws.name}: that needs a project role with access to project ${ws.project.number}'s level 4 outputs`);
  }
  return undefined;
}
export const [checkUserCanCreate, userCanCreate] = pair(whyNotCreate);

/** The workspace's level 4 files: its project's members with level 4 access, and output checkers. */
function whyNotViewWorkspace(actor: Actor, ws: WorkspaceInfo): Why {
  if (isSystem(actor) || hasProjectAccess(actor, ws.project) || isOutputChecker(actor)) return undefined;
  return new PermissionDenied(`${JSON.stringify(actor.username)} cannot see workspace ${ws.name}: that needs access to project ${ws.project.number}'s level 4 outputs, or the output checker role`);
}
export const [checkUserCanViewWorkspace, userCanViewWorkspace] = pair(whyNotViewWorkspace);

/** Downloading from a workspace, outside any request: output checkers only; researchers look at level 4 files where they are. */
function whyNotDownloadWorkspace(actor: Actor, ws: WorkspaceInfo): Why {
  if (!isSystem(actor) && isOutputChecker(actor)) return undefined;
  return new PermissionDenied(`${isSystem(actor) ? "the uploader" : JSON.stringify(actor.username)} cannot download files from workspace ${ws.name}: only output checkers can`);
}
export const [checkUserCanDownloadWorkspace, userCanDownloadWorkspace] = pair(whyNotDownloadWorkspace);

function whyNotUpload(c: RequestContext, actor: Actor): Why {
  if (!isSystem(actor)) return new PermissionDenied(`${who(c, actor)} cannot release files of ${label(c)}: only the uploader reports what the job server accepted`);
  if (c.agg.request.status !== "approved") return new RuleViolation(`cannot release files of ${label(c)}: it is ${c.agg.request.status}, and only approved requests are released`);
  return undefined;
}
export const [checkUploader, userIsUploader] = pair(whyNotUpload);
