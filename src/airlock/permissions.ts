// Who someone is to a release request. The job server's roles decide it,
// through its one `can` (src/jobserver/permissions.ts); this file only says
// which permission stands for what in the airlock:
//
// - An author needs a project role that reaches the project's level 4 outputs
//   (`output.view_unreleased` from a project role, so ProjectDeveloper on an
//   ongoing project). The global OutputChecker role grants the same permission
//   everywhere, but checking outputs is not membership: a checker may not
//   request releases from a project they are not in.
// - A reviewer is an output checker: the global role that may upload released
//   files (`release.upload`, asked without a project so that no project role
//   can grant it), who is not the request's author. An author who is also an
//   output checker is the author of their own request, never its reviewer.
// - The uploader is SYSTEM.
// - A member is someone else in the project with the same access: they may
//   look at the request, not act on it.

import { type Principal, type ProjectRef, can } from "../jobserver/permissions.js";
import { type Actor, type WorkspaceInfo, isSystem } from "./model.js";

export type RequestRole = "author" | "reviewer" | "system" | "member" | "other";

/** Access to the project's level 4 outputs through a project role (global roles left out on purpose, see above). */
export function hasProjectAccess(p: Principal, project: ProjectRef): boolean {
  return can({ ...p, globalRoles: [] }, "output.view_unreleased", project);
}

export function isOutputChecker(p: Principal): boolean {
  return can(p, "release.upload");
}

/** The actor's role for a request by `author` in the workspace `ws`. */
export function roleOf(author: string, actor: Actor, ws: WorkspaceInfo): RequestRole {
  if (isSystem(actor)) return "system";
  if (typeof actor.username !== "string" || actor.username === "") return "other";
  if (actor.username === author) return hasProjectAccess(actor, ws.project) ? "author" : "other";
  if (isOutputChecker(actor)) return "reviewer";
  return hasProjectAccess(actor, ws.project) ? "member" : "other";
}

/** The actor and their role in words, for error messages: "alice (the author)". */
export function describeActor(author: string, actor: Actor, ws: WorkspaceInfo): string {
  if (isSystem(actor)) return "the uploader";
  const role = roleOf(author, actor, ws);
  const who = JSON.stringify(actor.username ?? "");
  const n = ws.project.number;
  switch (role) {
    case "author":
      return `${who} (the author)`;
    case "reviewer":
      return `${who} (an output checker)`;
    case "member":
      return `${who} (a member of project ${n}, not the author)`;
    default:
      return actor.username === author
        ? `${who} (the author, who no longer has access to project ${n}'s level 4 outputs)`
        : `${who} (without access to project ${n}'s level 4 outputs, and not an output checker)`;
  }
}

/** Why nobody may create or change requests in the workspace now, or undefined when they may. */
export function blockedReason(ws: WorkspaceInfo): string | undefined {
  if (ws.archived) return `the workspace ${ws.name} is archived`;
  if (ws.project.status !== "ongoing") return `project ${ws.project.number} is ${ws.project.status}, no longer ongoing`;
  return undefined;
}
