// The job server: the outside service of Enclave (docs/api.md). Start it with
// startJobServer; its state is a Store, its decisions `can`, its job requests
// validated by submitJobRequest.

export { type JobServer, type JobServerOptions, startJobServer } from "./server.js";
export { type Job, type JobReport, type JobRequest, type Project, type User, type Workspace, Store, StoreError } from "./store.js";
export { type Permission, type Principal, type Role, can } from "./permissions.js";
export { JobRequestError, submitJobRequest } from "./requests.js";
