// The job server: the outside service of Enclave (docs/api.md). Start it with
// startJobServer; its state is a Store, its decisions `can`, its job requests
// validated by submitJobRequest; released files arrive from Airlock through
// the backend services' protocol, and reach a study's repository only through
// an approved publish request.

export { type JobServer, type JobServerOptions, startJobServer } from "./server.js";
export {
  type Audited,
  type AuditNote,
  type Incident,
  type Job,
  type JobReport,
  type JobRequest,
  type Project,
  type PublishFile,
  type PublishRequest,
  type PublishStatus,
  type Release,
  type ReleaseFile,
  type ReleasedFile,
  type User,
  type Workspace,
  PUBLISH_STATUSES,
  PUBLISH_TRANSITIONS,
  Store,
  StoreError,
  checkPublishTransition,
  restrictedMessage,
} from "./store.js";
export { RELEASE_FILE_LIMIT, ReleaseFolder } from "./api.js";
export { type Permission, type Principal, type Role, can } from "./permissions.js";
export { DEFAULT_ALLOWED_REPOS, JobRequestError, RepoPlacesError, repoAllowed, repoPlaces, submitJobRequest } from "./requests.js";
