// A stand-in for the job server's side of the agent protocol (docs/api.md):
// node:http on 127.0.0.1 with an in-memory queue, recording every body it was
// sent so that tests can look for anything that should not have left the
// backend. It can be taken down and brought back on the same port.

import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { JobReport, Task } from "../../src/agent/index.js";

export interface FakeRequest {
  task: Task;
  state: "pending" | "running" | "succeeded" | "failed" | "cancelled";
  agent: string | null;
  jobs: Map<string, JobReport>;
  /** Every report of the request, in the order received. */
  history: JobReport[];
  finish?: { status: string; message: string };
  cancelRequested: boolean;
}

interface Waiter {
  agent: string;
  answer: (task: Task | null) => void;
}

export class FakeJobServer {
  readonly backend = "test-backend";
  readonly token = `token-${randomBytes(8).toString("hex")}`;
  readonly requests = new Map<string, FakeRequest>();
  /** Every request body received, as sent. */
  readonly bodies: string[] = [];
  readonly heartbeats: { agent: string; running: string[] }[] = [];
  /** The real job server's rule; a test turns it off to see the agent keep its own. */
  oneRunningPerWorkspace = true;
  /** Path and answer status of every call. */
  readonly calls: { path: string; status: number }[] = [];
  private readonly queue: string[] = [];
  private readonly waiters: Waiter[] = [];
  private server: http.Server;
  private port = 0;

  private constructor() {
    this.server = this.create();
  }

  static async start(): Promise<FakeJobServer> {
    const s = new FakeJobServer();
    await s.up();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Queues a request; returns its identifier. */
  submit(task: Omit<Task, "jobRequest" | "project" | "branch" | "requester" | "force"> & Partial<Task>): string {
    const id = task.jobRequest ?? randomBytes(8).toString("hex");
    const full: Task = {
      project: { number: 1, name: "Test project", category: "approved", status: "ongoing" },
      branch: "main",
      requester: "alice",
      force: false,
      ...task,
      jobRequest: id,
    };
    this.requests.set(id, { task: full, state: "pending", agent: null, jobs: new Map(), history: [], cancelRequested: false });
    this.queue.push(id);
    this.wake();
    return id;
  }

  cancel(id: string): void {
    this.requests.get(id)!.cancelRequested = true;
  }

  request(id: string): FakeRequest {
    const r = this.requests.get(id);
    if (r === undefined) throw new Error(`no request ${id}`);
    return r;
  }

  /** Resolves once the request is finished (or rejects after `ms`). */
  finished(id: string, ms = 120_000): Promise<FakeRequest> {
    return this.until(() => {
      const r = this.request(id);
      return r.finish === undefined ? undefined : r;
    }, ms, `request ${id} to finish`);
  }

  /** Polls `check` until it gives something. */
  async until<T>(check: () => T | undefined | false, ms = 60_000, what = "the condition"): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops answering: the port refuses connections. */
  async down(): Promise<void> {
    for (const w of this.waiters.splice(0)) w.answer(null);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Answers again, on the same port. */
  async up(): Promise<void> {
    this.server = this.create();
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return this.server.listening ? this.down() : Promise.resolve();
  }

  private create(): http.Server {
    return http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => this.handle(req, res, body));
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    this.bodies.push(text);
    const path = req.url ?? "";
    const send = (status: number, value?: unknown) => {
      this.calls.push({ path, status });
      if (res.destroyed) return;
      if (value === undefined) res.writeHead(status).end();
      else res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    };
    if (req.method !== "POST") return send(405, { error: "POST only" });
    if (req.headers.authorization !== `Bearer ${this.token}` || req.headers["enclave-backend"] !== this.backend) return send(401, { error: "unknown backend or wrong token" });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return send(400, { error: "the body is not JSON" });
    }
    const agent = body.agent;
    if (typeof agent !== "string" || agent === "") return send(400, { error: "no agent" });

    if (path === "/api/agent/recover") {
      const failed: string[] = [];
      for (const [id, r] of this.requests) {
        if (r.agent !== agent || r.state !== "running") continue;
        this.end(r, "failed", "the agent stopped while this job ran; request it again");
        failed.push(id);
      }
      return send(200, { failed });
    }
    if (path === "/api/agent/claim") {
      const wait = Math.min(Number(body.wait ?? 0), 30);
      const task = this.take(agent);
      if (task !== null || wait <= 0) return task === null ? send(204) : send(200, { task });
      const waiter: Waiter = {
        agent,
        answer: (t) => {
          clearTimeout(timer);
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          if (t === null) send(204);
          else send(200, { task: t });
        },
      };
      const timer = setTimeout(() => waiter.answer(null), wait * 1000);
      // An agent that gives up waiting must not be handed a request it will never read.
      res.on("close", () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          clearTimeout(timer);
        }
      });
      this.waiters.push(waiter);
      return;
    }
    if (path === "/api/agent/heartbeat") {
      const running = Array.isArray(body.running) ? (body.running as string[]) : [];
      this.heartbeats.push({ agent, running });
      return send(200, { cancel: running.filter((id) => this.requests.get(id)?.cancelRequested) });
    }
    const m = /^\/api\/agent\/requests\/([^/]+)\/(jobs|finish)$/.exec(path);
    if (m !== null) {
      const r = this.requests.get(decodeURIComponent(m[1]!));
      if (r === undefined) return send(404, { error: "no such request" });
      if (r.agent !== agent || r.state !== "running") return send(409, { error: "the request is not held by this agent" });
      if (m[2] === "jobs") {
        for (const j of (body.jobs ?? []) as JobReport[]) {
          r.jobs.set(j.identifier, j);
          r.history.push(j);
        }
        return send(200, { cancelRequested: r.cancelRequested });
      }
      const status = String(body.status);
      if (!["succeeded", "failed", "cancelled"].includes(status)) return send(400, { error: "bad status" });
      this.end(r, status as FakeRequest["state"], String(body.message ?? ""));
      this.wake();
      return send(200, { identifier: r.task.jobRequest, status });
    }
    return send(404, { error: `no route ${path}` });
  }

  private end(r: FakeRequest, state: FakeRequest["state"], message: string): void {
    r.state = state;
    r.finish = { status: state, message };
    for (const [id, j] of r.jobs) {
      if (j.status === "pending" || j.status === "running") r.jobs.set(id, { ...j, status: "failed", statusCode: "internal_error", statusMessage: message });
    }
  }

  /** The next pending request whose workspace has none running, claimed by `agent`. */
  private take(agent: string): Task | null {
    const busy = new Set([...this.requests.values()].filter((r) => r.state === "running" && this.oneRunningPerWorkspace).map((r) => r.task.workspace));
    const i = this.queue.findIndex((id) => !busy.has(this.requests.get(id)!.task.workspace));
    if (i < 0) return null;
    const [id] = this.queue.splice(i, 1);
    const r = this.requests.get(id!)!;
    r.state = "running";
    r.agent = agent;
    return r.task;
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      const task = this.take(w.agent);
      if (task === null) return;
      w.answer(task);
    }
  }
}
