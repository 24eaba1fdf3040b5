// The worker slots: limits, database slots, fairness across workspaces, and
// giving up a wait.

import { describe, expect, it } from "vitest";
import { WorkerPool } from "../../src/agent/workers.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Asks for a slot and records, in `order`, when it was given. */
function ask(pool: WorkerPool, order: string[], label: string, workspace: string, database = false, signal?: AbortSignal) {
  const waits: string[] = [];
  const got = pool.acquire({ workspace, database, ...(signal ? { signal } : {}), onWait: (w) => waits.push(w) }).then((release) => {
    order.push(label);
    return release;
  });
  return { got, waits };
}

describe("WorkerPool", () => {
  it("never runs more than maxWorkers at once, and gives a slot back only once", async () => {
    const pool = new WorkerPool(2, 1);
    const order: string[] = [];
    const a = ask(pool, order, "a", "w1");
    ask(pool, order, "b", "w1");
    const c = ask(pool, order, "c", "w1");
    await tick();
    expect(order).toEqual(["a", "b"]);
    expect(c.waits).toEqual(["worker"]);
    expect(a.waits).toEqual([]);
    const release = await a.got;
    release();
    release();
    await tick();
    expect(order).toEqual(["a", "b", "c"]);
    expect(pool.running).toEqual({ workers: 2, databaseWorkers: 0 });
  });

  it("runs at most maxDatabaseWorkers database actions, and lets other actions past a waiting one", async () => {
    const pool = new WorkerPool(3, 1);
    const order: string[] = [];
    const d1 = ask(pool, order, "d1", "w1", true);
    const d2 = ask(pool, order, "d2", "w2", true);
    ask(pool, order, "n", "w3");
    await tick();
    expect(order).toEqual(["d1", "n"]);
    expect(d2.waits).toEqual(["database worker"]);
    (await d1.got)();
    await tick();
    expect(order).toEqual(["d1", "n", "d2"]);
    expect(pool.running).toEqual({ workers: 2, databaseWorkers: 1 });
  });

  it("hands contended slots round-robin: the workspace served least recently goes first", async () => {
    const pool = new WorkerPool(1, 1);
    const order: string[] = [];
    const releases = new Map<string, Promise<() => void>>();
    const want = (label: string, workspace: string) => releases.set(label, ask(pool, order, label, workspace).got);
    want("busy-0", "busy");
    // The busy workspace queues more actions before the others ask.
    want("busy-1", "busy");
    want("busy-2", "busy");
    want("busy-3", "busy");
    want("quiet-1", "quiet");
    want("other-1", "other");
    want("quiet-2", "quiet");
    await tick();
    for (let i = 0; i < 6; i += 1) {
      (await releases.get(order.at(-1)!)!)();
      await tick();
    }
    // quiet and other had not been served, so they go before busy's second; then turns alternate.
    expect(order).toEqual(["busy-0", "quiet-1", "other-1", "busy-1", "quiet-2", "busy-2", "busy-3"]);
  });

  it("stops waiting when the signal is aborted, and the slot goes to the next", async () => {
    const pool = new WorkerPool(1, 1);
    const order: string[] = [];
    const held = ask(pool, order, "held", "w1");
    const controller = new AbortController();
    const given = ask(pool, order, "given-up", "w2", false, controller.signal);
    const next = ask(pool, order, "next", "w3");
    controller.abort(new Error("cancelled"));
    await expect(given.got).rejects.toThrow("cancelled");
    (await held.got)();
    await next.got;
    expect(order).toEqual(["held", "next"]);
    await expect(pool.acquire({ workspace: "w", database: false, signal: controller.signal })).rejects.toThrow("cancelled");
    expect(() => new WorkerPool(0, 1)).toThrow(/maxWorkers must be a whole number of at least 1, not 0/);
  });
});
