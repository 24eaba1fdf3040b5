// The agent's side of the protocol in docs/api.md: a small client of the job
// server over fetch. The agent only ever calls out (it binds nothing), so the
// job server being down is ordinary: calls that may be repeated are retried
// with a growing delay until the server answers, and only an answer that says
// the call itself is wrong (400, 401, 404, 409) ends the retries.

/** What the job server hands an agent to run (see docs/api.md). */
export interface Task {
  jobRequest: string;
  workspace: string;
  project: { number: number; name: string; category: string; status: string };
  /** A local path or a URL. */
  repo: string;
  branch: string;
  commit: string;
  /** Action names, or ["run_all"]. */
  actions: string[];
  force: boolean;
  requester: string;
}

export type JobStatus = "pending" | "running" | "succeeded" | "failed";
export type JobStatusCode = "" | "succeeded" | "nonzero_exit" | "unmatched_patterns" | "dependency_failed" | "internal_error" | "cancelled_by_user";

/** One job's state as it goes outside: redacted (see reports.ts). */
export interface JobReport {
  identifier: string;
  action: string;
  runCommand: string;
  status: JobStatus;
  statusCode: JobStatusCode;
  statusMessage: string;
  started: string | null;
  finished: string | null;
  exitCode: number | null;
  cpuSeconds: number | null;
  memoryBytes: number | null;
}

export type FinishStatus = "succeeded" | "failed" | "cancelled";

/** A call that failed; `retryable` when trying again later may work (no answer, a timeout, a 5xx). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    message: string,
    /** The HTTP status, or null when no answer came. */
    readonly status: number | null,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface RetryOptions {
  /** The first delay (default 500 ms); each next one is twice as long, up to maxMs. */
  initialMs?: number;
  /** The longest delay (default 30 s). */
  maxMs?: number;
  /** Told of each failure that will be retried. */
  onRetry?: (error: ProtocolError, delayMs: number) => void;
}

export interface ClientOptions {
  /** The job server's base URL, e.g. https://jobs.example.org. */
  server: string;
  backend: string;
  token: string;
  /** This agent's name. */
  agent: string;
  /** How long one call may take before it counts as unanswered (default 30 s; a claim also gets its wait). */
  timeoutMs?: number;
  retry?: RetryOptions;
}

const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);

export class AgentClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch {
      throw new ProtocolError(`the job server's URL ${JSON.stringify(options.server)} is not a URL (write it like https://jobs.example.org)`, null, false);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new ProtocolError(`the job server's URL must be http:// or https://, not ${url.protocol}//`, null, false);
    this.base = url.href.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get server(): string {
    return this.base;
  }

  /** Fails, on the server, the requests this agent held when it stopped; returns their identifiers. One attempt. */
  async recover(signal?: AbortSignal): Promise<string[]> {
    const answer = await this.call("/api/agent/recover", {}, { signal });
    const failed = (answer as { failed?: unknown } | undefined)?.failed;
    if (!Array.isArray(failed) || !failed.every((f) => typeof f === "string")) throw this.malformed("/api/agent/recover", "a list `failed`");
    return failed;
  }

  /** The next request for this backend, claimed by this agent, or null when none came within `waitSeconds`. One attempt. */
  async claim(waitSeconds: number, signal?: AbortSignal): Promise<unknown> {
    const answer = await this.call("/api/agent/claim", { wait: waitSeconds }, { signal, timeoutMs: this.timeoutMs + waitSeconds * 1000 });
    if (answer === undefined) return null;
    const task = (answer as { task?: unknown }).task;
    if (typeof task !== "object" || task === null) throw this.malformed("/api/agent/claim", "an object `task`");
    return task;
  }

  /** Upserts job reports; retried until it works. Says whether the request's cancellation was asked for. */
  async reportJobs(request: string, jobs: readonly JobReport[], signal?: AbortSignal): Promise<{ cancelRequested: boolean }> {
    const path = `/api/agent/requests/${encodeURIComponent(request)}/jobs`;
    const answer = await this.retrying(() => this.call(path, { jobs }, { signal }), signal);
    return { cancelRequested: (answer as { cancelRequested?: unknown } | undefined)?.cancelRequested === true };
  }

  /** Ends a request; retried until it works. */
  async finish(request: string, status: FinishStatus, message: string, signal?: AbortSignal): Promise<void> {
    const path = `/api/agent/requests/${encodeURIComponent(request)}/finish`;
    await this.retrying(() => this.call(path, { status, message }, { signal }), signal);
  }

  /** Says which requests this agent is running; returns those whose cancellation was asked for. One attempt. */
  async heartbeat(running: readonly string[], signal?: AbortSignal): Promise<string[]> {
    const answer = await this.call("/api/agent/heartbeat", { running }, { signal, timeoutMs: Math.min(this.timeoutMs, 5_000) });
    const cancel = (answer as { cancel?: unknown } | undefined)?.cancel;
    if (cancel === undefined) return [];
    if (!Array.isArray(cancel) || !cancel.every((c) => typeof c === "string")) throw this.malformed("/api/agent/heartbeat", "a list `cancel`");
    return cancel;
  }

  /** Runs `attempt` until it succeeds or fails in a way that retrying cannot mend; waits longer after each failure. */
  async retrying<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const { initialMs = 500, maxMs = 30_000, onRetry } = this.options.retry ?? {};
    let delay = initialMs;
    for (;;) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof ProtocolError) || !e.retryable || signal?.aborted) throw e;
        // A little jitter, so that agents restarted together do not call together.
        const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
        onRetry?.(e, wait);
        await sleep(wait, signal);
        delay = Math.min(delay * 2, maxMs);
      }
    }
  }

  /** One POST; resolves to the parsed answer (undefined for 204). */
  private async call(path: string, body: Record<string, unknown>, options: { signal?: AbortSignal | undefined; timeoutMs?: number }): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const where = `POST ${path}`;
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.options.token}`,
          "enclave-backend": this.options.backend,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: JSON.stringify({ agent: this.options.agent, ...body }),
        signal,
      });
    } catch (e) {
      if (options.signal?.aborted) throw abortError(options.signal);
      if (timeout.aborted) {
        const ms = options.timeoutMs ?? this.timeoutMs;
        throw new ProtocolError(`the job server at ${this.base} did not answer ${where} within ${ms >= 1000 ? Math.round(ms / 1000) : ms / 1000} s`, null, true);
      }
      throw new ProtocolError(`cannot reach the job server at ${this.base} (${where}): ${causeOf(e)}`, null, true);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      if (options.signal?.aborted) throw abortError(options.signal);
      throw new ProtocolError(`the job server's answer to ${where} broke off: ${causeOf(e)}`, null, true);
    }
    if (response.status === 204) return undefined;
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      // A proxy's error page, say.
      parsed = undefined;
      if (response.ok) throw new ProtocolError(`the job server answered ${where} with something other than JSON (HTTP ${response.status})`, response.status, true);
    }
    if (response.ok) return parsed;
    const said = typeof (parsed as { error?: unknown } | undefined)?.error === "string" ? `: ${(parsed as { error: string }).error}` : "";
    const retryable = response.status >= 500 || RETRYABLE_STATUS.has(response.status);
    const hint = response.status === 401 ? " (check the backend's name and token: a rotated token needs the agent restarted with the new one)" : "";
    throw new ProtocolError(`the job server refused ${where} with HTTP ${response.status}${said}${hint}`, response.status, retryable);
  }

  private malformed(path: string, expected: string): ProtocolError {
    return new ProtocolError(`the job server's answer to POST ${path} is not what the protocol says (expected ${expected})`, null, false);
  }
}

/** Waits `ms`, or less when `signal` is aborted (then rejects with its reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("the call was abandoned", "AbortError");
}

/** undici hides the reason (ECONNREFUSED, say) in the error's cause. */
function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return e instanceof Error ? e.message : String(e);
}
