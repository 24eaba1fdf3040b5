// The uploader: the only way files leave the backend. For every approved
// request it sends the job server the list of files (name, size, sha256,
// date), then each file's bytes from the request's content-addressed copy,
// and reports each file the job server accepted to the Airlock service, which
// releases the request once every file is in (service.ts: markReleased).
//
// The job server being down, or answering 5xx, is ordinary: the uploader
// tries again, waiting twice as long each time up to a cap. An answer that
// says the upload itself is wrong (409: the bytes the job server received do
// not hash to what the list says, or the list differs from the one it has) is
// not retried on its own: trying again would most likely fail the same way,
// and a person should look. It is logged, shown to the checkers, and held
// until one of them asks for another try (retry) or the service restarts.

import { AirlockError, ContentMismatch } from "./errors.js";
import { readObject } from "./files.js";
import type { AirlockPaths } from "./files.js";
import { type JobServerApi, JobServerError, type Release } from "./jobserver-client.js";
import { type ReleaseRequest, SYSTEM } from "./model.js";
import type { Airlock } from "./service.js";

export interface UploaderOptions {
  airlock: Airlock;
  api: JobServerApi;
  paths: AirlockPaths;
  log: (message: string) => void;
  /** How often to look for approved requests when all is well (default 10 s). */
  intervalMs?: number;
  /** The first wait after a failure (default 1 s); each next one is twice as long, up to maxBackoffMs. */
  initialBackoffMs?: number;
  /** The longest wait (default 5 minutes). */
  maxBackoffMs?: number;
}

/** Why a request is not being uploaded, until a checker asks for another try. */
export interface Held {
  request: number;
  reason: string;
  since: Date;
}

type Outcome = "done" | "transient";

/** What one pass did: everything it could, or stopped at a failure worth retrying. */
export interface Pass {
  outcome: Outcome;
  /** The failure that stopped it. */
  error?: string;
}

export class Uploader {
  private readonly intervalMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly heldRequests = new Map<number, Held>();
  private failures = 0;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** Set by stop(): a pass under way ends after its current request. */
  private stopping = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;

  constructor(private readonly options: UploaderOptions) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Stops after the pass under way (an upload is never cut halfway). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  /** Look now (a request was just approved). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  held(): Held[] {
    return [...this.heldRequests.values()];
  }

  heldReason(request: number): Held | undefined {
    return this.heldRequests.get(request);
  }

  /** A person has looked at why the request was held: try it again. */
  retry(request: number): void {
    this.heldRequests.delete(request);
    this.kick();
  }

  /** The delay before the next pass. */
  private nextDelay(outcome: Outcome): number {
    if (outcome === "done") {
      this.failures = 0;
      return this.intervalMs;
    }
    this.failures++;
    return Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.min(this.failures - 1, 30));
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.kicked = false;
      let pass: Pass;
      try {
        pass = await this.runOnce();
      } catch (e) {
        // Reading the requests failed (the database, say): like the job server being down.
        pass = { outcome: "transient", error: (e as Error).message };
      }
      if (this.stopped) break;
      const { outcome } = pass;
      const delay = this.nextDelay(outcome);
      if (pass.error !== undefined) this.options.log(`airlock uploader: ${pass.error}; trying again in ${delay} ms`);
      // A kick during a backoff still waits: the job server is down either way.
      if (this.kicked && outcome === "done") continue;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      clearTimeout(this.timer);
      this.wake = undefined;
    }
  }

  /**
   * One pass over the approved requests, oldest first. Stops at the first
   * failure that is worth retrying (the job server is down for the others too).
   */
  async runOnce(): Promise<Pass> {
    const approved = await this.options.airlock.listRequests(SYSTEM, { statuses: ["approved"] });
    for (const r of approved) {
      if (this.stopping) break;
      if (this.heldRequests.has(r.id)) continue;
      try {
        await this.upload(r);
      } catch (e) {
        if (e instanceof JobServerError && e.retryable) return { outcome: "transient", error: `request ${r.id}: ${e.message}` };
        const reason = describe(e);
        this.heldRequests.set(r.id, { request: r.id, reason, since: new Date() });
        this.options.log(`airlock uploader: request ${r.id} is held until an output checker retries it: ${reason}`);
        if (!(e instanceof JobServerError || e instanceof AirlockError)) throw e;
      }
    }
    return { outcome: "done" };
  }

  /** Sends one approved request: the list, then each file the job server does not have yet, then reports each accepted file. */
  async upload(request: ReleaseRequest): Promise<void> {
    const { airlock, api, paths } = this.options;
    const id = request.id;
    const items = await airlock.releaseList(SYSTEM, id);
    const approvedBy = (await airlock.events(SYSTEM, id)).filter((e) => e.type === "airlock.request.approve").at(-1)?.username ?? "unknown";
    const release: Release = await api.createRelease({
      workspace: request.workspace,
      request: String(id),
      releasedBy: approvedBy,
      files: items.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, date: f.date })),
    });
    for (const item of items) {
      const there = release.files.find((f) => f.name === item.name);
      if (!there) throw new JobServerError(`the job server's release ${release.id} for request ${id} does not list ${JSON.stringify(item.name)}, which was sent in its list`, null, false);
      let received = there;
      if (!there.received) {
        const bytes = readObject(paths, item.sha256, `${request.workspace}/${item.name} (request ${id})`);
        received = await api.putFile(release.id, item.name, bytes);
      }
      if (!received.received) throw new JobServerError(`the job server did not confirm it received ${JSON.stringify(item.name)} of request ${id}`, null, true);
      if (!item.released || received.sha256 !== item.sha256) await airlock.markReleased(SYSTEM, id, item.name, { sha256: received.sha256 });
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof JobServerError && e.status === 409) return `the job server refused the upload as inconsistent (${e.message}); check the request's files and the job server's release, then retry`;
  if (e instanceof ContentMismatch) return `${e.message}; check the stored copy, then retry`;
  return e instanceof Error ? e.message : String(e);
}
