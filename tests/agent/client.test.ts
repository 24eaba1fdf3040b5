// The agent's client of the job server: the protocol's calls, and what it does
// when the server is down, slow, or says no.

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AgentClient, type JobReport, ProtocolError } from "../../src/agent/index.js";
import { FakeJobServer } from "./fake-server.js";

const servers: { close(): unknown }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function fake(): Promise<FakeJobServer> {
  const s = await FakeJobServer.start();
  servers.push(s);
  return s;
}

function client(server: FakeJobServer, extra: Partial<ConstructorParameters<typeof AgentClient>[0]> = {}): AgentClient {
  return new AgentClient({ server: server.url, backend: server.backend, token: server.token, agent: "a1", retry: { initialMs: 20, maxMs: 100 }, ...extra });
}

const TASK = { workspace: "w", repo: "/srv/git/w.git", commit: "a".repeat(40), actions: ["run_all"] };

const report = (identifier: string): JobReport => ({
  identifier,
  action: "a",
  runCommand: "node:v1 a.mjs",
  status: "running",
  statusCode: "",
  statusMessage: "Running",
  started: new Date().toISOString(),
  finished: null,
  exitCode: null,
  cpuSeconds: null,
  memoryBytes: null,
});

describe("AgentClient", () => {
  it("speaks the protocol: recover, claim (or nothing), jobs, heartbeat, finish", async () => {
    const server = await fake();
    const c = client(server);
    expect(await c.recover()).toEqual([]);
    expect(await c.claim(0)).toBeNull();
    const id = server.submit(TASK);
    expect(await c.claim(1)).toMatchObject({ jobRequest: id, workspace: "w", commit: "a".repeat(40) });
    expect(await c.reportJobs(id, [report("0123456789abcdef")])).toEqual({ cancelRequested: false });
    server.cancel(id);
    expect(await c.heartbeat([id])).toEqual([id]);
    expect(await c.reportJobs(id, [report("0123456789abcdef")])).toEqual({ cancelRequested: true });
    await c.finish(id, "cancelled", "Cancelled by a user");
    expect(server.request(id).finish).toEqual({ status: "cancelled", message: "Cancelled by a user" });
    // Every call names the agent.
    expect(server.bodies.every((b) => (JSON.parse(b) as { agent: string }).agent === "a1")).toBe(true);
  });

  it("waits on a claim until a request comes", async () => {
    const server = await fake();
    const c = client(server);
    setTimeout(() => server.submit({ ...TASK, jobRequest: "later" }), 300);
    const started = Date.now();
    expect(await c.claim(5)).toMatchObject({ jobRequest: "later" });
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("retries while the server is down, with growing delays, and succeeds when it is back", async () => {
    const server = await fake();
    const c0 = client(server);
    const id = server.submit(TASK);
    await c0.claim(0);
    await server.down();
    const delays: number[] = [];
    const c = client(server, { retry: { initialMs: 20, maxMs: 160, onRetry: (e, ms) => (expect(e.retryable).toBe(true), delays.push(ms)) } });
    setTimeout(() => void server.up(), 1500);
    expect(await c.reportJobs(id, [report("0123456789abcdef")])).toEqual({ cancelRequested: false });
    expect(server.request(id).jobs.size).toBe(1);
    expect(delays.length).toBeGreaterThan(3);
    // Doubling, with a little jitter, up to the longest delay.
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(160 * 1.2);
  });

  it("does not retry what the server refuses: a wrong token, a request not held", async () => {
    const server = await fake();
    const wrong = client(server, { token: "nope" });
    const err = await wrong.reportJobs("x", []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ status: 401, retryable: false });
    expect((err as Error).message).toBe(
      "the job server refused POST /api/agent/requests/x/jobs with HTTP 401: unknown backend or wrong token (check the backend's name and token: a rotated token needs the agent restarted with the new one)",
    );
    const id = server.submit(TASK);
    await expect(client(server).finish(id, "failed", "x")).rejects.toMatchObject({ status: 409 });
    await expect(client(server).finish("unknown", "failed", "x")).rejects.toMatchObject({ status: 404 });
    expect(server.calls.filter((c) => c.status >= 400)).toHaveLength(3);
  });

  it("gives up on a call that gets no answer in time, and on a claim whose signal is aborted", async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    servers.push({ close: () => new Promise((resolve) => (silent.closeAllConnections(), silent.close(resolve))) });
    const c = new AgentClient({ server: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, backend: "b", token: "t", agent: "a1", timeoutMs: 200 });
    await expect(c.heartbeat([])).rejects.toMatchObject({ retryable: true, message: expect.stringMatching(/did not answer POST \/api\/agent\/heartbeat within 0.2 s/) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stopping")), 100);
    await expect(c.claim(20, controller.signal)).rejects.toThrow("stopping");
  });

  it("refuses a URL that is not http(s)", () => {
    expect(() => new AgentClient({ server: "jobs.example.org", backend: "b", token: "t", agent: "a" })).toThrow(/is not a URL/);
    expect(() => new AgentClient({ server: "ftp://jobs.example.org", backend: "b", token: "t", agent: "a" })).toThrow(/must be http:\/\/ or https:\/\//);
  });
});
