// Airlock: output checking and release, inside the backend. Researchers ask
// for level 4 files to be released; two output checkers who are not the author
// review them independently; approved files go to the job server. The
// workflow is data (workflow.ts), judged in one place (checkTransition); the
// service (service.ts) is what the HTTP layer and the uploader call.

export { Airlock, type AirlockOptions, type AddFileInput, type OpenedFile, type ReleaseItem, type WorkspaceFile, type WorkspaceFileStatus } from "./service.js";
export { AirlockStore, AirlockTx, type AirlockEvent, type RequestFilter } from "./store.js";
export { AirlockError, Blocked, ContentMismatch, InvalidTransition, NotFound, PermissionDenied, RuleViolation } from "./errors.js";
export {
  SYSTEM,
  SystemActor,
  FILE_KINDS,
  VOTES,
  VISIBILITIES,
  DECISIONS,
  approvals,
  countedVotes,
  decisionTurn,
  fileDecision,
  isSystem,
  type Actor,
  type CheckVerdict,
  type Comment,
  type Decision,
  type FileGroup,
  type FileKind,
  type ReleaseRequest,
  type RequestAggregate,
  type RequestFile,
  type ReviewSubmission,
  type Visibility,
  type Vote,
  type VoteValue,
  type WorkspaceInfo,
  type WorkspaceLookup,
} from "./model.js";
export {
  REQUEST_STATUSES,
  OWNERS,
  STATUS_OWNER,
  BLINDED_STATUSES,
  ACTIVE_STATUSES,
  AUDIT_EVENTS,
  TRANSITIONS,
  CONDITIONS,
  checkTransition,
  userCanTransition,
  stateDiagram,
  type AuditEvent,
  type Condition,
  type Owner,
  type RequestStatus,
  type Transition,
  type TransitionContext,
} from "./workflow.js";
export { roleOf, type RequestRole } from "./permissions.js";
export * from "./rules.js";
export { canSee, requestView, type FileView, type GroupView, type RequestView } from "./view.js";
export type { AirlockPaths } from "./files.js";

// The service around it: the web pages, the job server's protocol, the uploader.
export { startAirlockServer, statusOf, type AirlockServer, type AirlockServerOptions } from "./server.js";
export {
  JobServerClient,
  JobServerError,
  WorkspaceCache,
  principalOf,
  type Access,
  type BackendUser,
  type JobServerApi,
  type NewRelease,
  type Release,
  type ReleasedFile,
  type RemoteWorkspace,
} from "./jobserver-client.js";
export { Uploader, type Held, type UploaderOptions } from "./uploader.js";
export { Sessions, DEFAULT_RECHECK_MS, type AirlockSession } from "./sessions.js";
export { summarise, selectRows, readTableQuery, type ColumnSummary, type TableQuery } from "./viewer.js";
export { diffLines, diffTables, textHunks, type TableDiff } from "./diff.js";
