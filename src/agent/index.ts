// agent/: the service inside the secure backend that takes job requests from
// the job server and runs them (see agent.ts), and its client of the job
// server's agent protocol (docs/api.md).

export { AgentError, type AgentOptions, CLAIM_WAIT_SECONDS, DEFAULT_MAX_DATABASE_WORKERS, DEFAULT_MAX_WORKERS, type RunningAgent, startAgent } from "./agent.js";
export { AgentClient, type ClientOptions, type FinishStatus, type JobReport, type JobStatus, type JobStatusCode, ProtocolError, type RetryOptions, type Task } from "./client.js";
export { WorkerPool, type SlotRequest } from "./workers.js";
