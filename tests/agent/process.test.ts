// The agent as a process of its own (`enclave agent`, through cli-child.mjs):
// killed mid-job and restarted, stopped with Ctrl-C, and its command line.

import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "../../src/agent/index.js";
import { AuditLog } from "../../src/audit/index.js";
import { jobIdFor } from "../../src/pipeline/runner.js";
import { ensureBuilt } from "../cli/helpers.js";
import { FakeJobServer } from "./fake-server.js";
import { ACT, Repo, makeDatabase, removeTempDirs, tempDir } from "./helpers.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "cli-child.mjs");

let dsn: string;
let server: FakeJobServer;
const children: ChildProcess[] = [];
const agents: RunningAgent[] = [];

beforeAll(() => {
  ensureBuilt();
  dsn = makeDatabase(20);
}, 180_000);
afterAll(removeTempDirs);
beforeEach(async () => {
  server = await FakeJobServer.start();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const a of agents.splice(0)) await a.stop();
  await server.close();
});

interface Child {
  process: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function agentProcess(args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [CHILD, "agent", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { process: child, stderr: () => stderr, exited };
}

function serverArgs(dir: string, name: string): string[] {
  return ["--server", server.url, "--backend", server.backend, "--name", name, "--dir", dir, "--database", dsn];
}

/** Processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text)) found.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

// An action that is quick or slow depending on analysis/mode.txt, so that two
// commits give one action (the same definition) that hangs or finishes.
const SLOW_OR_QUICK = `import * as fs from "node:fs";
const mode = fs.readFileSync("analysis/mode.txt", "utf8").trim();
fs.mkdirSync("output", { recursive: true });
fs.writeFileSync("output/slow.csv", "state\\npartial\\n");
if (mode === "slow") await new Promise((r) => setTimeout(r, 120000));
fs.writeFileSync("output/slow.csv", "state\\n" + mode + "\\n");
`;
const PROJECT = `version: 4
actions:
  slow:
    run: node:v1 analysis/slow.mjs
    outputs:
      moderately_sensitive:
        out: output/slow.csv
  after:
    run: node:v1 analysis/act.mjs write output/after.csv done
    needs: [slow]
    outputs:
      moderately_sensitive:
        out: output/after.csv
`;

describe("a crash", () => {
  it("killed mid-job, the restarted agent has the request failed, and the action runs again cleanly (never reused)", { timeout: 240_000 }, async () => {
    const repo = new Repo();
    const files = { "project.yaml": PROJECT, "analysis/slow.mjs": SLOW_OR_QUICK, "analysis/act.mjs": ACT };
    const quick = repo.commit({ ...files, "analysis/mode.txt": "quick" });
    const slow = repo.commit({ "analysis/mode.txt": "slow" });
    const dir = tempDir("enclave-agent-crash-");
    const tokenFile = path.join(tempDir("enclave-agent-token-"), "token");
    fs.writeFileSync(tokenFile, `${server.token}\n`);
    const first = agentProcess([...serverArgs(dir, "crashy"), "--token-file", tokenFile]);

    // The action succeeds once, then hangs in a second request.
    const done = server.submit({ workspace: "ws", repo: repo.dir, commit: quick, actions: ["slow"] });
    expect((await server.finished(done)).finish?.status, first.stderr()).toBe("succeeded");
    const held = server.submit({ workspace: "ws", repo: repo.dir, commit: slow, actions: ["slow"] });
    await server.until(() => server.request(held).jobs.get(jobIdFor(held, "slow"))?.statusMessage === "Running", 60_000, "slow to run");
    const lock = path.join(dir, "workspaces/ws/metadata/.enclave-run.lock");
    expect(fs.readFileSync(lock, "utf8")).toBe(String(first.process.pid));
    // Killed once the action has written its partial output in its working folder (so is surely running).
    await server.until(() => fs.readdirSync(path.join(dir, "tmp")).some((w) => fs.existsSync(path.join(dir, "tmp", w, "output/slow.csv"))), 60_000, "the partial output");

    first.process.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    // The action died with it (its parent-death signal): nothing runs in the agent's folder any more.
    try {
      await server.until(() => processesMentioning(dir).length === 0, 10_000, "the action to die with the agent");
    } finally {
      for (const pid of processesMentioning(dir)) process.kill(pid, "SIGKILL");
    }
    expect(server.request(held).finish).toBeUndefined();
    expect(fs.existsSync(lock)).toBe(true);
    expect(fs.readdirSync(path.join(dir, "checkouts"))).toEqual([held]);

    // Restarted under the same name.
    const lines: string[] = [];
    agents.push(await startAgent({ server: server.url, backend: server.backend, token: server.token, name: "crashy", dir, database: dsn, claimWaitSeconds: 1, log: (l) => lines.push(l) }));
    const failed = server.request(held);
    expect(failed.finish).toEqual({ status: "failed", message: "the agent stopped while this job ran; request it again" });
    expect(failed.jobs.get(jobIdFor(held, "slow"))).toMatchObject({ status: "failed", statusCode: "internal_error" });
    expect(lines.some((l) => l.includes(`failed 1 request this agent held when it stopped: ${held}`))).toBe(true);
    expect(fs.readdirSync(path.join(dir, "checkouts"))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);
    // The half-written output never reached the workspace: the earlier one is still there.
    expect(fs.readFileSync(path.join(dir, "workspaces/ws/output/slow.csv"), "utf8")).toBe("state\nquick\n");

    // A request for what needs the action: the action is not reused (its last run did not finish), so it runs again.
    const again = server.submit({ workspace: "ws", repo: repo.dir, commit: quick, actions: ["after"] });
    const r = await server.finished(again);
    expect(r.finish?.status).toBe("succeeded");
    expect(Object.fromEntries([...r.jobs.values()].map((j) => [j.action, j.statusCode]))).toEqual({ slow: "succeeded", after: "succeeded" });
    expect(fs.existsSync(lock)).toBe(false);

    await agents.splice(0)[0]!.stop();
    const audit = await AuditLog.open(path.join(dir, "audit.db"));
    try {
      const recovered = (await audit.entries()).filter((e) => e.action === "agent.recover").map((e) => e.details.failed);
      expect(recovered).toEqual([[], [held]]);
    } finally {
      await audit.close();
    }
  });
});

describe("enclave agent", () => {
  it("on Ctrl-C, cancels the running request, reports it cancelled, and exits with 0", { timeout: 120_000 }, async () => {
    const repo = new Repo();
    const commit = repo.commit({ "project.yaml": PROJECT, "analysis/slow.mjs": SLOW_OR_QUICK, "analysis/act.mjs": ACT, "analysis/mode.txt": "slow" });
    const dir = tempDir("enclave-agent-cli-");
    const child = agentProcess(serverArgs(dir, "cli"), { ENCLAVE_BACKEND_TOKEN: server.token });
    const id = server.submit({ workspace: "ws", repo: repo.dir, commit, actions: ["slow"] });
    await server.until(() => server.request(id).jobs.get(jobIdFor(id, "slow"))?.statusMessage === "Running", 60_000, "slow to run");
    child.process.kill("SIGINT");
    const exit = await child.exited;
    expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
    expect(server.request(id).finish).toEqual({ status: "cancelled", message: "Cancelled: the backend's agent was stopped" });
    expect(child.stderr()).toMatch(/stopping the agent: cancelling the running requests/);
    expect(child.stderr()).toMatch(/enclave agent cli: stopped\n/);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it("takes the token only from the environment or a file, and says what is missing", { timeout: 60_000 }, async () => {
    const dir = tempDir("enclave-agent-cli-");
    const env = { ENCLAVE_BACKEND_TOKEN: "", DATABASE_URL: "" };
    const noToken = agentProcess(serverArgs(dir, "cli"), env);
    expect((await noToken.exited).code).toBe(2);
    expect(noToken.stderr()).toBe("error: the agent needs the backend's token: set ENCLAVE_BACKEND_TOKEN, or give --token-file FILE (never on the command line, where ps shows it)\n");

    const noDatabase = agentProcess(serverArgs(dir, "cli").slice(0, -2), { ...env, ENCLAVE_BACKEND_TOKEN: server.token });
    expect((await noDatabase.exited).code).toBe(2);
    expect(noDatabase.stderr()).toMatch(/^error: the agent needs the backend's database: give --database DSN, or set DATABASE_URL\n$/);

    const empty = path.join(dir, "empty-token");
    fs.writeFileSync(empty, "\n");
    const emptyToken = agentProcess([...serverArgs(dir, "cli"), "--token-file", empty], env);
    expect((await emptyToken.exited).code).toBe(1);
    expect(emptyToken.stderr()).toBe(`error: the token file ${empty} is empty\n`);

    const wrong = agentProcess(serverArgs(dir, "cli"), { ...env, ENCLAVE_BACKEND_TOKEN: "wrong" });
    expect((await wrong.exited).code).toBe(1);
    expect(wrong.stderr()).toMatch(/error: cannot start: the job server refused POST \/api\/agent\/recover with HTTP 401/);

    const badWorkers = agentProcess([...serverArgs(dir, "cli"), "--max-workers", "0"], { ENCLAVE_BACKEND_TOKEN: server.token });
    expect((await badWorkers.exited).code).toBe(2);
    expect(badWorkers.stderr()).toMatch(/--max-workers <n>' argument '0' is invalid\. Expected a whole number of at least 1\./);

    const help = agentProcess(["--help"]);
    expect((await help.exited).code).toBe(0);
  });
});
