// Roles and what they grant, as data: the job server roles of
// shared/reference/permissions.md, with their exact names. `can` is the one
// place a permission is decided; it is pure so that the whole matrix can be
// tested without a database. Anything not in GRANTS is denied.

export const PROJECT_ROLES = ["ProjectDeveloper", "ProjectCollaborator"] as const;
export const GLOBAL_ROLES = ["OutputChecker", "OutputPublisher", "StaffAreaAdministrator", "ServiceAdministrator", "TechSupport"] as const;
export const ROLES = [...PROJECT_ROLES, ...GLOBAL_ROLES] as const;

export type ProjectRole = (typeof PROJECT_ROLES)[number];
export type GlobalRole = (typeof GLOBAL_ROLES)[number];
export type Role = ProjectRole | GlobalRole;

export const PERMISSIONS = [
  "job.run",
  "job.cancel",
  "project.manage",
  "workspace.create",
  "workspace.archive",
  "output.view_unreleased",
  "release.view",
  "release.upload",
  "release.delete",
  "snapshot.publish",
  "user.manage",
  "org.manage",
  "backend.manage",
  "project.create",
  "project.edit_roles",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const PROJECT_STATUSES = ["ongoing", "postponed", "completed", "retired"] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];
export const PROJECT_CATEGORIES = ["approved", "internal", "short data report"] as const;
export type ProjectCategory = (typeof PROJECT_CATEGORIES)[number];

// TechSupport is named by the reference without any grant, so it gets none:
// deny by default rather than guess.
export const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  ProjectDeveloper: ["job.run", "job.cancel", "project.manage", "workspace.create", "workspace.archive", "output.view_unreleased", "release.view"],
  ProjectCollaborator: ["release.view"],
  OutputChecker: ["output.view_unreleased", "release.view", "release.upload", "release.delete"],
  OutputPublisher: ["snapshot.publish"],
  StaffAreaAdministrator: ["user.manage", "org.manage", "backend.manage"],
  ServiceAdministrator: ["project.create", "project.edit_roles"],
  TechSupport: [],
};

/** Running jobs and level 4 access end with the project ("access ends when a project finishes"). */
export const ONGOING_ONLY: readonly Permission[] = ["job.run", "output.view_unreleased"];

export interface Principal {
  username: string;
  globalRoles: readonly GlobalRole[];
  /** Project number → the roles held in that project. */
  projectRoles: Readonly<Record<number, readonly ProjectRole[]>>;
}

export interface ProjectRef {
  number: number;
  status: ProjectStatus;
}

export const isRole = (r: string): r is Role => (ROLES as readonly string[]).includes(r);
export const isProjectRole = (r: string): r is ProjectRole => (PROJECT_ROLES as readonly string[]).includes(r);
export const isGlobalRole = (r: string): r is GlobalRole => (GLOBAL_ROLES as readonly string[]).includes(r);

export function can(user: Principal, permission: Permission, project?: ProjectRef): boolean {
  // Global roles are not membership, so a project's status does not limit them:
  // output checkers still review what a finished project submitted.
  for (const role of user.globalRoles) if (isGlobalRole(role) && GRANTS[role].includes(permission)) return true;
  if (!project) return false;
  const roles = user.projectRoles[project.number] ?? [];
  const granted = roles.some((r) => isProjectRole(r) && GRANTS[r].includes(permission));
  if (!granted) return false;
  // Checked on every call from the status itself, so nothing has to revoke roles when a project ends.
  return project.status === "ongoing" || !ONGOING_ONLY.includes(permission);
}
