// `enclave agent`: the service inside the secure backend that runs job
// requests. It only calls out to the job server (docs/api.md): it recovers
// what it held when it last stopped, then long-polls for requests while it has
// room for another, and runs each one:
//
//   1. the commit's files are fetched into <dir>/checkouts/<request>/ (checkout.ts);
//   2. the runner runs the requested actions with that as the study's code and
//      the workspace's store as its project folder, so that outputs, state,
//      logs and the manifest persist between requests:
//        <dir>/workspaces/<workspace>/            level 3 (highly_sensitive and
//                                                 moderately_sensitive outputs)
//        <dir>/workspaces/<workspace>/metadata/   state, logs, manifest.json
//        <dir>/level4/<workspace>/                level 4 (moderately_sensitive
//                                                 files that passed the checks)
//      each action in the sandbox (bubblewrap required), and only database
//      actions given the database's DSN and the project's permissions, in
//      their environment;
//   3. every change of a job's state is reported, redacted (reports.ts), and
//      the request is finished as succeeded, failed or cancelled.
//
// A heartbeat each second names the requests it runs; the job server answers
// with those a user has cancelled, which are then stopped. Actions of all
// requests share the worker slots in workers.ts.
//
// SEVERAL AGENTS may serve one backend: the job server's claim gives each
// request to one agent only, and never two running requests of one workspace
// to the backend. Each agent then needs a --dir of its own (its mirrors,
// checkouts, temporary folders and audit log are its own), while
// <dir>/workspaces and <dir>/level4 must be the same shared storage for all of
// them (mounted or linked there), since any agent may run a workspace's next
// request. The runner's lock file holds a process id, which means nothing on
// another machine; the job server's rule above is what keeps two runs of one
// workspace apart.
//
// AFTER A CRASH, the restarted agent (same name) asks the job server to fail
// what it held (recover); locally, the runner's state still shows the
// interrupted action as running, so it is never reused and its partial
// outputs never count, and the runner's lock, left by a process that is gone,
// does not hold. Checkout and temporary folders left behind are removed at start.

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { AuditLog, type JsonObject } from "../audit/index.js";
import { type ActionExecutor, type ActionLimits, type ActionResult, DEFAULT_LIMITS } from "../pipeline/action.js";
import { checkCodelists } from "../pipeline/codelists.js";
import { type Action, type Project, ProjectError, dependenciesOf, expandRunAll, isDatabaseAction, parseProject } from "../pipeline/project.js";
import { type ActionOutcome, type RunEvent, type RunOptions, type RunSummary, jobIdFor, runPipeline } from "../pipeline/runner.js";
import { bubblewrapWorks, executeAction, findOnPath } from "../pipeline/runtimes.js";
import { sqlrunnerDatabaseUrl } from "../pipeline/sqlrunner.js";
import { type AnalysisScope, type Policy, type ProjectCategory, analysisScope, loadPolicy } from "../policy/index.js";
import { CheckoutError, Repositories } from "./checkout.js";
import { AgentClient, type FinishStatus, type JobReport, ProtocolError, type RetryOptions, type Task, sleep } from "./client.js";
import { finishedReport, pendingReport, runningReport } from "./reports.js";
import { WorkerPool } from "./workers.js";

export const DEFAULT_MAX_WORKERS = 2;
export const DEFAULT_MAX_DATABASE_WORKERS = 1;
/** How long a claim waits on the job server for a request (the protocol allows up to 30 s). */
export const CLAIM_WAIT_SECONDS = 20;

export interface AgentOptions {
  /** The job server's URL. */
  server: string;
  /** The backend's name on the job server. */
  backend: string;
  /** The backend's token. */
  token: string;
  /** This agent's name: stable across restarts, unique in the backend. */
  name: string;
  /** The agent's folder (see the top of this file). */
  dir: string;
  /** The backend's database: sqlite:///path, duckdb:///path or postgresql://... */
  database: string;
  /**
   * PostgreSQL backends: the DSN of the SQL runner's restricted role for the
   * strictest scope, as `enclave admin prepare-sqlrunner` prints it; the role
   * for each project's scope is derived from it. Without it sqlrunner actions
   * get the backend's DSN, which the SQL runner refuses as unrestricted.
   */
  sqlrunnerDatabase?: string;
  /** Actions running at once, across all requests (default 2). */
  maxWorkers?: number;
  /** Database actions running at once (default 1). */
  maxDatabaseWorkers?: number;
  /** Requests held at once (default: maxWorkers). */
  maxRequests?: number;
  /** The agent's audit log (default <dir>/audit.db). */
  auditDb?: string;
  /** The committed allowlists (default: loadPolicy()). */
  policy?: Policy;
  /** Each action's limits (default DEFAULT_LIMITS). */
  limits?: ActionLimits;
  /** Operational messages (default: standard error). */
  log?: (line: string) => void;
  /** How long each claim waits on the server, in seconds (default 20). */
  claimWaitSeconds?: number;
  /** The heartbeat's period (default 1 s). */
  heartbeatMs?: number;
  /** Delays between retries of calls to the job server. */
  retry?: RetryOptions;
  /** How long stop() waits for the last reports to reach an unreachable job server (default 10 s). */
  stopGraceMs?: number;
  /** Whether bubblewrap works here (default: probed); tests say it does not. */
  bubblewrap?: () => boolean;
  /** Runs one action (default: the runtimes' executeAction); for tests. */
  executor?: ActionExecutor;
  /**
   * TESTS ONLY: start without bubblewrap and run actions with the runtimes'
   * fallback. Never offered on the command line: a backend must not run
   * researchers' code outside the sandbox.
   */
  unsandboxedForTests?: boolean;
}

/** A running agent. */
export interface RunningAgent {
  /** Stops claiming, cancels what runs (reported cancelled), and resolves once all is reported and closed. */
  stop(): Promise<void>;
}

/** A reason the agent will not start; the message says what to fix. */
export class AgentError extends Error {
  override name = "AgentError";
}

/** A request refused before anything ran; the message may go to the job server. */
class Refused extends Error {}

/** Starts an agent: checks this machine, recovers, and starts claiming requests. */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const agent = new Agent(options);
  await agent.start();
  return { stop: () => agent.stop() };
}

/** What the agent holds of a request while it runs it. */
interface Held {
  task: Task;
  controller: AbortController;
  cancelled: false | "user" | "stop";
  reports: ReportQueue;
  done: Promise<void>;
}

class Agent {
  private readonly dir: string;
  private readonly paths: { workspaces: string; level4: string; checkouts: string; tmp: string; repos: string };
  private readonly client: AgentClient;
  private readonly pool: WorkerPool;
  private readonly maxRequests: number;
  private readonly database: string;
  private readonly sqlrunnerDatabase: string | undefined;
  private readonly limits: ActionLimits;
  private readonly executor: ActionExecutor;
  private readonly sandbox: "required" | "auto";
  private readonly log: (line: string) => void;
  private readonly actor: string;
  private readonly active = new Map<string, Held>();
  private readonly workspaceRuns = new Map<string, Promise<unknown>>();
  // Stops claiming (and recovering); the calls that end requests go on until giveUp.
  private readonly stopping = new AbortController();
  private readonly giveUp = new AbortController();
  private policy!: Policy;
  private repos!: Repositories;
  private audit!: AuditLog;
  private auditing: Promise<unknown> = Promise.resolve();
  private recovered = false;
  private loop: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private lastProblem: string | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: AgentOptions) {
    for (const key of ["server", "backend", "token", "name", "dir", "database"] as const) {
      if (typeof options[key] !== "string" || options[key].trim() === "") throw new AgentError(`the agent needs ${key === "token" ? "the backend's token" : `a ${key}`}`);
    }
    if (/\s/.test(options.name)) throw new AgentError(`the agent's name ${JSON.stringify(options.name)} holds a space; use letters, digits, - and _`);
    const positive = (name: string, v: number | undefined, fallback: number) => {
      const n = v ?? fallback;
      if (!Number.isInteger(n) || n < 1) throw new AgentError(`${name} must be a whole number of at least 1, not ${n}`);
      return n;
    };
    const maxWorkers = positive("the number of workers", options.maxWorkers, DEFAULT_MAX_WORKERS);
    this.pool = new WorkerPool(maxWorkers, positive("the number of database workers", options.maxDatabaseWorkers, DEFAULT_MAX_DATABASE_WORKERS));
    this.maxRequests = positive("the number of requests held at once", options.maxRequests, maxWorkers);
    this.dir = path.resolve(options.dir);
    this.paths = {
      workspaces: path.join(this.dir, "workspaces"),
      level4: path.join(this.dir, "level4"),
      checkouts: path.join(this.dir, "checkouts"),
      tmp: path.join(this.dir, "tmp"),
      repos: path.join(this.dir, "repos"),
    };
    this.database = databaseDsn(options.database);
    this.sqlrunnerDatabase = options.sqlrunnerDatabase;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.executor = options.executor ?? executeAction;
    this.sandbox = options.unsandboxedForTests ? "auto" : "required";
    this.actor = `agent:${options.name}`;
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} enclave agent ${options.name}: ${line}\n`));
    try {
      this.client = new AgentClient({
        server: options.server,
        backend: options.backend,
        token: options.token,
        agent: options.name,
        retry: { ...options.retry, onRetry: (e, ms) => (this.problem(e), options.retry?.onRetry?.(e, ms)) },
      });
    } catch (e) {
      throw new AgentError(e instanceof Error ? e.message : String(e));
    }
  }

  async start(): Promise<void> {
    if (!this.options.unsandboxedForTests) {
      const bubblewrap = this.options.bubblewrap ?? bubblewrapWorks;
      if (!bubblewrap()) {
        throw new AgentError(
          "refusing to start: bubblewrap (bwrap) does not work on this machine, and the agent runs every action in its sandbox (install it with apt-get install bubblewrap, and check that unprivileged user namespaces are allowed)",
        );
      }
      if (findOnPath("prlimit") === undefined) throw new AgentError("refusing to start: prlimit (util-linux) is not installed, so no action could be given memory and CPU-time limits");
    }
    for (const program of ["git", "tar"]) {
      if (findOnPath(program) === undefined) throw new AgentError(`refusing to start: ${program} is not installed, and the agent needs it to check out the studies' commits`);
    }
    try {
      this.policy = this.options.policy ?? loadPolicy();
    } catch (e) {
      throw new AgentError(`refusing to start: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const d of Object.values(this.paths)) fs.mkdirSync(d, { recursive: true });
    // Left by an agent that died: nothing in them is needed, and checkouts are named after requests that may come again.
    for (const d of [this.paths.checkouts, this.paths.tmp]) {
      for (const entry of fs.readdirSync(d)) fs.rmSync(path.join(d, entry), { recursive: true, force: true });
    }
    this.repos = new Repositories(this.paths.repos);
    const auditDb = this.options.auditDb ?? path.join(this.dir, "audit.db");
    try {
      this.audit = await AuditLog.open(auditDb);
    } catch (e) {
      throw new AgentError(`cannot open the agent's audit log ${auditDb}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.record("agent.start", `agent:${this.options.name}`, {
      backend: this.options.backend,
      server: this.client.server,
      max_workers: this.pool.maxWorkers,
      max_database_workers: this.pool.maxDatabaseWorkers,
      max_requests: this.maxRequests,
    });

    // A server that answers but refuses (a wrong token, say) is a mistake to report now; one that does not answer may come back.
    try {
      this.onRecovered(await this.client.recover(this.stopping.signal));
    } catch (e) {
      if (!(e instanceof ProtocolError) || !e.retryable) {
        await this.auditing;
        await this.audit.close();
        throw new AgentError(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.problem(e);
    }
    this.log(`started: ${this.pool.maxWorkers} worker${this.pool.maxWorkers === 1 ? "" : "s"} (${this.pool.maxDatabaseWorkers} for the database), job server ${this.client.server}, folder ${this.dir}`);
    this.loop = this.claimLoop().catch((e) => this.log(`the claim loop stopped: ${describe(e)}`));
    this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 1000);
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.log("stopping: no more requests are claimed; running requests are cancelled");
      this.stopping.abort(new DOMException("the agent is stopping", "AbortError"));
      for (const held of this.active.values()) this.cancel(held, "stop");
      const grace = setTimeout(() => this.giveUp.abort(new DOMException("the agent stopped before the job server could be told", "AbortError")), this.options.stopGraceMs ?? 10_000);
      await this.loop;
      await Promise.all([...this.active.values()].map((h) => h.done));
      clearTimeout(grace);
      clearInterval(this.heartbeat);
      this.record("agent.stop", `agent:${this.options.name}`, {});
      await this.auditing;
      await this.audit.close();
      this.log("stopped");
    })();
    return this.stopped;
  }

  // ---- the job server

  private onRecovered(failed: string[]): void {
    this.recovered = true;
    this.fine();
    if (failed.length > 0) this.log(`the job server failed ${failed.length} request${failed.length === 1 ? "" : "s"} this agent held when it stopped: ${failed.join(", ")}`);
    this.record("agent.recover", `agent:${this.options.name}`, { failed });
  }

  private async claimLoop(): Promise<void> {
    const stop = this.stopping.signal;
    const { initialMs = 500, maxMs = 30_000 } = this.options.retry ?? {};
    let delay = initialMs;
    const pause = async () => {
      await sleep(delay, stop).catch(() => {});
      delay = Math.min(delay * 2, maxMs);
    };
    const stopped = new Promise((resolve) => stop.addEventListener("abort", resolve, { once: true }));
    while (!stop.aborted) {
      if (!this.recovered) {
        try {
          this.onRecovered(await this.client.recover(stop));
        } catch (e) {
          if (stop.aborted) break;
          this.problem(e);
          await pause();
        }
        continue;
      }
      if (this.active.size >= this.maxRequests) {
        await Promise.race([...[...this.active.values()].map((h) => h.done), stopped]);
        continue;
      }
      let raw: unknown;
      try {
        raw = await this.client.claim(this.options.claimWaitSeconds ?? CLAIM_WAIT_SECONDS, stop);
        this.fine();
        delay = initialMs;
      } catch (e) {
        if (stop.aborted) break;
        this.problem(e);
        await pause();
        continue;
      }
      if (raw !== null) await this.accept(raw);
    }
  }

  private async accept(raw: unknown): Promise<void> {
    const read = readTask(raw);
    if (typeof read === "string") {
      const id = (raw as { jobRequest?: unknown }).jobRequest;
      this.log(`the job server sent a task that cannot be run: ${read}`);
      if (typeof id === "string" && REQUEST_ID.test(id)) {
        await this.client.finish(id, "failed", "Internal error: the backend could not read the request", this.giveUp.signal).catch((e) => this.log(`cannot fail request ${id}: ${describe(e)}`));
      }
      return;
    }
    const task = read;
    const held: Held = {
      task,
      controller: new AbortController(),
      cancelled: false,
      reports: new ReportQueue(
        async (jobs) => {
          const answer = await this.client.reportJobs(task.jobRequest, jobs, this.giveUp.signal);
          if (answer.cancelRequested) this.cancel(held, "user");
        },
        (e) => this.log(`the reports of request ${task.jobRequest} could not be sent, and no more will be: ${describe(e)}`),
      ),
      done: Promise.resolve(),
    };
    this.active.set(task.jobRequest, held);
    held.done = this.handle(held).finally(() => this.active.delete(task.jobRequest));
    if (this.stopping.signal.aborted) this.cancel(held, "stop");
  }

  private async beat(): Promise<void> {
    if (this.beating || this.active.size === 0) return;
    this.beating = true;
    try {
      const cancel = await this.client.heartbeat([...this.active.keys()], this.giveUp.signal);
      this.fine();
      for (const id of cancel) {
        const held = this.active.get(id);
        if (held !== undefined) this.cancel(held, "user");
      }
    } catch (e) {
      if (!this.giveUp.signal.aborted) this.problem(e);
    } finally {
      this.beating = false;
    }
  }

  private cancel(held: Held, why: "user" | "stop"): void {
    if (held.cancelled) return;
    held.cancelled = why;
    this.log(`cancelling request ${held.task.jobRequest} (${why === "user" ? "asked by a user" : "the agent is stopping"})`);
    this.record("job_request.cancel", `job_request:${held.task.jobRequest}`, { workspace: held.task.workspace, by: why === "user" ? "user" : "agent_stop" });
    held.controller.abort(new DOMException("the request was cancelled", "AbortError"));
  }

  /** Logs a problem with the job server once, not at every retry. */
  private problem(e: unknown): void {
    const text = describe(e);
    if (text === this.lastProblem) return;
    this.lastProblem = text;
    this.log(`${text}; retrying`);
  }

  private fine(): void {
    if (this.lastProblem === undefined) return;
    this.lastProblem = undefined;
    this.log("the job server answers again");
  }

  // ---- one request

  private async handle(held: Held): Promise<void> {
    const { task } = held;
    const id = task.jobRequest;
    const signal = held.controller.signal;
    const checkout = path.join(this.paths.checkouts, id);
    this.log(`claimed request ${id}: workspace ${task.workspace}, commit ${task.commit.slice(0, 12)}, ${task.actions.join(" ")}${task.force ? " (forcing dependencies)" : ""}`);
    // From the policy files this agent was installed with, never from anything the job server sends but the project's number, category and status.
    let scope: AnalysisScope | undefined;
    try {
      scope = analysisScope({ number: task.project.number, category: task.project.category as ProjectCategory, status: task.project.status }, this.policy);
    } catch (e) {
      this.log(`request ${id}: cannot work out the project's analysis scope: ${describe(e)}`);
    }
    this.record("job_request.claim", `job_request:${id}`, {
      workspace: task.workspace,
      project: task.project.number,
      repo: task.repo,
      commit: task.commit,
      actions: task.actions,
      force: task.force,
      requester: task.requester,
      permissions: scope === undefined ? null : [...scope.permissions],
    });
    let status: FinishStatus = "failed";
    let message = "Internal error";
    try {
      if (scope === undefined) throw new Error("no analysis scope");
      await fsp.rm(checkout, { recursive: true, force: true });
      await this.repos.checkout(task.repo, task.commit, checkout, signal);
      signal.throwIfAborted();
      const project = readProject(checkout);
      this.refuseEarly(project, task, scope, checkout);
      const summary = await this.run(held, project, scope, checkout);
      if (summary.ok) [status, message] = ["succeeded", "Completed successfully"];
      else if (held.cancelled) [status, message] = ["cancelled", cancelMessage(held.cancelled)];
      else [status, message] = ["failed", failureMessage(summary)];
    } catch (e) {
      if (held.cancelled) [status, message] = ["cancelled", cancelMessage(held.cancelled)];
      else if (e instanceof Refused) message = e.message;
      else if (e instanceof CheckoutError) {
        message = e.message;
        this.log(`request ${id}: ${e.detail}`);
      } else this.log(`request ${id} failed inside the agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    // Before the job server hears of the end, so that a finished request has left nothing behind.
    await fsp.rm(checkout, { recursive: true, force: true }).catch((e) => this.log(`cannot remove ${checkout}: ${describe(e)}`));
    await held.reports.drain();
    try {
      await this.client.finish(id, status, message, this.giveUp.signal);
    } catch (e) {
      this.log(`cannot tell the job server that request ${id} ${status === "cancelled" ? "was cancelled" : status}: ${describe(e)}`);
    }
    this.record("job_request.finish", `job_request:${id}`, { workspace: task.workspace, status });
    this.log(`request ${id}: ${status}${status === "succeeded" ? "" : ` (${message})`}`);
  }

  /** What the runner would only find out later, or that it does not check: refused before anything runs. */
  private refuseEarly(project: Project, task: Task, scope: AnalysisScope, checkout: string): void {
    let involved: Action[];
    try {
      involved = dependenciesOf(project, expandRunAll(project, task.actions)).map((n) => project.actions.get(n)!);
    } catch (e) {
      if (e instanceof ProjectError) throw new Refused(e.lines.join("; "));
      throw e;
    }
    const sql = involved.filter((a) => a.run.image === "sqlrunner").map((a) => a.name);
    if (sql.length > 0 && !scope.sqlRunner) throw new Refused(`This project may not run SQL runner actions (only the internal project may): ${sql.join(", ")}`);
    const database = involved.filter(isDatabaseAction).map((a) => a.name);
    if (database.length > 0 && !checkCodelists(checkout).ok) {
      throw new Refused(`The study's codelists are out of date, so its database actions (${database.join(", ")}) cannot run: check them with enclave codelists check, then update, commit and request again`);
    }
  }

  private async run(held: Held, project: Project, scope: AnalysisScope, checkout: string): Promise<RunSummary> {
    const { task, reports } = held;
    const id = task.jobRequest;
    const signal = held.controller.signal;
    const workspace = path.join(this.paths.workspaces, task.workspace);
    fs.mkdirSync(workspace, { recursive: true });
    const action = (name: string) => project.actions.get(name)!;
    const outcomes = new Map<string, ActionOutcome>();
    const results = new Map<string, ActionResult>();
    const starts = new Map<string, string>();

    // The slots are taken here, after the runner has started the job and staged its files.
    const executor: ActionExecutor = async (run) => {
      const name = run.action.name;
      const jobId = jobIdFor(id, name);
      let release: () => void;
      try {
        release = await this.pool.acquire({
          workspace: task.workspace,
          database: isDatabaseAction(run.action),
          ...(run.signal === undefined ? {} : { signal: run.signal }),
          onWait: (what) => reports.put(pendingReport(jobId, run.action, `Waiting for a free ${what}`)),
        });
      } catch {
        return { exitCode: null, signal: null, timedOut: false, cpuSeconds: null, peakMemoryBytes: null, message: "cancelled while it waited for a worker" };
      }
      try {
        const at = new Date().toISOString();
        starts.set(name, at);
        reports.put(runningReport(jobId, run.action, "Running", at));
        this.record("job.start", `job:${jobId}`, { job_request: id, workspace: task.workspace, action: name });
        const result = await this.executor(run);
        results.set(name, result);
        return result;
      } finally {
        release();
      }
    };

    const reporter = (event: RunEvent) => {
      switch (event.type) {
        case "plan":
          for (const p of event.actions) {
            if (p.decision !== "run") continue;
            const waits = action(p.action).needs.some((n) => event.actions.some((q) => q.action === n && q.decision === "run"));
            reports.put(pendingReport(jobIdFor(id, p.action), action(p.action), waits ? "Waiting on dependencies" : "Created"));
          }
          break;
        case "started":
          reports.put(runningReport(event.jobId, action(event.action), "Preparing", event.at.toISOString()));
          break;
        case "finished": {
          const o = event.outcome;
          outcomes.set(o.action, o);
          const a = action(o.action);
          const jobId = o.jobId ?? jobIdFor(id, o.action);
          const report = finishedReport(o, {
            jobId,
            action: a,
            ...(results.has(o.action) ? { result: results.get(o.action)! } : {}),
            limits: this.limits,
            failedNeeds: a.needs.filter((n) => outcomes.get(n)?.status === "failed"),
            started: starts.get(o.action) ?? null,
            cancelled: held.cancelled,
          });
          reports.put(report);
          this.record("job.finish", `job:${jobId}`, { job_request: id, workspace: task.workspace, action: o.action, status_code: report.statusCode, exit_code: o.exitCode });
          break;
        }
        case "warning":
          this.log(`request ${id}: ${event.message}`);
          break;
        default:
          break;
      }
    };

    const options: RunOptions = {
      projectDir: workspace,
      codeDir: checkout,
      project,
      actions: task.actions,
      executor,
      forceRunDependencies: task.force,
      // As in the backend, an action that does not need a failed one still runs.
      continueOnError: true,
      concurrency: this.pool.maxWorkers,
      limits: this.limits,
      sandbox: this.sandbox,
      level4Dir: path.join(this.paths.level4, task.workspace),
      reporter,
      requestId: id,
      commit: task.commit,
      // Only database actions get the database, and with it the permissions their project holds.
      env: (a): Record<string, string> =>
        isDatabaseAction(a)
          ? {
              DATABASE_URL: a.run.image === "sqlrunner" ? sqlrunnerDatabaseUrl(this.database, scope, this.sqlrunnerDatabase) : this.database,
              ENCLAVE_PERMISSIONS: JSON.stringify(scope.permissions),
            }
          : {},
      user: task.requester,
      repo: task.repo,
      signal,
      tmpDir: this.paths.tmp,
    };
    // The job server never gives two requests of one workspace at once; should it, the runner's lock
    // (which holds this process's id) would not keep them apart, so here they wait for each other.
    const previous = this.workspaceRuns.get(task.workspace) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(() => runPipeline(options));
    this.workspaceRuns.set(task.workspace, mine);
    try {
      return await mine;
    } finally {
      if (this.workspaceRuns.get(task.workspace) === mine) this.workspaceRuns.delete(task.workspace);
    }
  }

  /** Appends to the audit log, in order; a failure is logged, and does not stop the work. */
  private record(action: string, subject: string, details: JsonObject): void {
    this.auditing = this.auditing
      .then(() => this.audit.append({ actor: this.actor, action, subject, details }))
      .catch((e) => this.log(`cannot write to the audit log (${action} ${subject}): ${describe(e)}`));
  }
}

/**
 * Reports wait here until the previous batch has been sent, so that they reach
 * the job server in order; a job's newer report replaces an unsent older one.
 */
class ReportQueue {
  private readonly pending = new Map<string, JobReport>();
  private flushing: Promise<void> | undefined;
  private broken = false;

  constructor(
    private readonly send: (jobs: JobReport[]) => Promise<void>,
    private readonly onBroken: (e: unknown) => void,
  ) {}

  put(report: JobReport): void {
    if (this.broken) return;
    this.pending.delete(report.identifier);
    this.pending.set(report.identifier, report);
    this.flushing ??= this.flush();
  }

  /** Resolves once everything put so far was sent (or could not be). */
  async drain(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.broken) {
        const batch = [...this.pending.values()];
        this.pending.clear();
        try {
          await this.send(batch);
        } catch (e) {
          // The client retries whatever may work later; what reaches here will not.
          this.broken = true;
          this.onBroken(e);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
// A workspace's name is a folder's name here.
const WORKSPACE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The task, checked; or what is wrong with it. */
function readTask(raw: unknown): Task | string {
  if (typeof raw !== "object" || raw === null) return "it is not an object";
  const t = raw as Record<string, unknown>;
  if (typeof t.jobRequest !== "string" || !REQUEST_ID.test(t.jobRequest)) return `its jobRequest ${JSON.stringify(t.jobRequest)} is not an identifier`;
  if (typeof t.workspace !== "string" || !WORKSPACE.test(t.workspace)) return `its workspace ${JSON.stringify(t.workspace)} is not a workspace's name`;
  if (typeof t.repo !== "string" || t.repo === "") return "it names no repository";
  if (typeof t.commit !== "string" || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(t.commit)) return `its commit ${JSON.stringify(t.commit)} is not a full commit hash`;
  if (!Array.isArray(t.actions) || t.actions.length === 0 || !t.actions.every((a) => typeof a === "string")) return "its actions are not a list of action names";
  if (typeof t.force !== "boolean") return "its force is not true or false";
  const p = t.project as Record<string, unknown> | null | undefined;
  if (typeof p !== "object" || p === null || (typeof p.number !== "number" && typeof p.number !== "string")) return "it has no project number";
  return {
    jobRequest: t.jobRequest,
    workspace: t.workspace,
    project: { number: p.number as number, name: String(p.name ?? ""), category: String(p.category ?? ""), status: String(p.status ?? "") },
    repo: t.repo,
    branch: typeof t.branch === "string" ? t.branch : "",
    commit: t.commit,
    actions: t.actions as string[],
    force: t.force,
    requester: typeof t.requester === "string" ? t.requester : "",
  };
}

function readProject(checkout: string): Project {
  const file = path.join(checkout, "project.yaml");
  if (!fs.existsSync(file)) throw new Refused("There is no project.yaml at this commit");
  try {
    return parseProject(fs.readFileSync(file, "utf8"));
  } catch (e) {
    // project.yaml is the study's own code, which the job server has: its problems may be told.
    if (e instanceof ProjectError) throw new Refused(`project.yaml at this commit is not valid: ${e.lines.join("; ")}`);
    throw e;
  }
}

function cancelMessage(why: "user" | "stop"): string {
  return why === "user" ? "Cancelled by a user" : "Cancelled: the backend's agent was stopped";
}

/** Names the actions that failed and their codes, which reveal no data. */
function failureMessage(summary: RunSummary): string {
  const ran = summary.actions.filter((a) => a.status !== "reused");
  const bad = ran.filter((a) => a.status !== "succeeded");
  return `${bad.length} of ${ran.length} job${ran.length === 1 ? "" : "s"} failed: ${bad.map((a) => `${a.action} (${a.statusCode ?? "not started"})`).join(", ")}`;
}

/**
 * The DSN, checked: a database file must exist (the agent never creates the
 * backend's database) and is made absolute, as actions run in other folders.
 * It is never printed whole: a server's DSN holds its password.
 */
function databaseDsn(dsn: string): string {
  const file = /^(sqlite|duckdb):\/\/(.+)$/i.exec(dsn);
  if (file !== null) {
    const full = path.resolve(file[2]!);
    if (!fs.existsSync(full)) throw new AgentError(`the database file ${full} does not exist (the agent never creates the backend's database)`);
    return `${file[1]!.toLowerCase()}://${full}`;
  }
  if (/^postgres(ql)?:\/\//i.test(dsn)) return dsn;
  throw new AgentError("the database must be given as sqlite:///path, duckdb:///path or postgresql://... (the value given is not shown, as it may hold a password)");
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
