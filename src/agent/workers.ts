// The backend's worker slots: how many actions run at once across every
// request the agent holds, and how many of those may be database actions (the
// database is shared, and a few heavy queries at once can slow it for all).
//
// When more actions wait than there are slots, the next slot goes to a waiting
// action of the workspace that was given one least recently (then to the one
// that has waited longest), so that one study with many actions cannot keep
// another study's single action waiting until it has finished them all.

/** What an action asks for. */
export interface SlotRequest {
  workspace: string;
  /** A database action also needs a database slot. */
  database: boolean;
  /** Aborting gives up waiting: acquire() rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called once, when the action has to wait, with what it waits for. */
  onWait?: (waitingFor: "worker" | "database worker") => void;
}

interface Waiter {
  request: SlotRequest;
  seq: number;
  grant: (release: () => void) => void;
}

export class WorkerPool {
  private workers = 0;
  private databaseWorkers = 0;
  private readonly waiting: Waiter[] = [];
  /** Workspace → when it was last given a slot (a count of grants). */
  private readonly lastServed = new Map<string, number>();
  private grants = 0;
  private arrivals = 0;

  constructor(
    readonly maxWorkers: number,
    readonly maxDatabaseWorkers: number,
  ) {
    for (const [name, n] of [
      ["maxWorkers", maxWorkers],
      ["maxDatabaseWorkers", maxDatabaseWorkers],
    ] as const) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a whole number of at least 1, not ${n}`);
    }
  }

  /** Actions running now, and database actions among them. */
  get running(): { workers: number; databaseWorkers: number } {
    return { workers: this.workers, databaseWorkers: this.databaseWorkers };
  }

  /** Actions waiting for a slot. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Resolves, with the function that gives the slot back, once a slot (and a database slot if asked) is this action's. */
  acquire(request: SlotRequest): Promise<() => void> {
    const { signal } = request;
    if (signal?.aborted) return Promise.reject(reason(signal));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { request, seq: this.arrivals++, grant: resolve };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        reject(reason(signal!));
      };
      waiter.grant = (release) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(release);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
      this.dispatch();
      if (this.waiting.includes(waiter)) request.onWait?.(this.workers >= this.maxWorkers ? "worker" : "database worker");
    });
  }

  private fits(r: SlotRequest): boolean {
    return this.workers < this.maxWorkers && (!r.database || this.databaseWorkers < this.maxDatabaseWorkers);
  }

  /** Hands out free slots to the waiters that can use them, fairest first. */
  private dispatch(): void {
    for (;;) {
      let best: Waiter | undefined;
      for (const w of this.waiting) {
        if (!this.fits(w.request)) continue;
        if (best === undefined || this.before(w, best)) best = w;
      }
      if (best === undefined) return;
      this.waiting.splice(this.waiting.indexOf(best), 1);
      const { workspace, database } = best.request;
      this.workers += 1;
      if (database) this.databaseWorkers += 1;
      this.lastServed.set(workspace, ++this.grants);
      let released = false;
      best.grant(() => {
        if (released) return;
        released = true;
        this.workers -= 1;
        if (database) this.databaseWorkers -= 1;
        this.dispatch();
      });
    }
  }

  private before(a: Waiter, b: Waiter): boolean {
    const la = this.lastServed.get(a.request.workspace) ?? 0;
    const lb = this.lastServed.get(b.request.workspace) ?? 0;
    return la !== lb ? la < lb : a.seq < b.seq;
  }
}

function reason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("gave up waiting for a worker", "AbortError");
}
