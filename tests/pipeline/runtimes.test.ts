// The runtimes run each image's command in the sandbox, and the sandbox keeps
// an action to its own folder: these tests run real actions (fixtures in
// runtimes/) in fresh folders and check both what they can do and what they cannot.
// The tests of the sandbox itself need a working bubblewrap (CI installs it);
// the fallback without it is tested everywhere, by telling the runtimes that
// bubblewrap does not work.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionLimits, ActionResult, ActionRun } from "../../src/pipeline/action.js";
import { parseRunCommand } from "../../src/pipeline/run-command.js";
import { NODE_V1_LIBRARIES, ProcessTreeUsage, bubblewrapWorks, createActionExecutor, executeAction, findOnPath, parseStat, tiedToParent } from "../../src/pipeline/runtimes.js";
import { disclosureControlColumns, redact, roundToNearest, suppressSmallCounts } from "../../src/sdc/index.js";
import { BIN, ensureBuilt } from "../cli/helpers.js";
import { spawn, spawnSync } from "node:child_process";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "runtimes");
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BWRAP = bubblewrapWorks();
const SANDBOX = BWRAP ? "in the bubblewrap sandbox" : "in the bubblewrap sandbox (skipped: bubblewrap does not work on this machine; CI installs it)";
const LIMITS: ActionLimits = { memoryMb: 4096, cpuSeconds: 120, wallSeconds: 60 };
/** What an action that ran used, measured through /proc (on Linux); an action that never started used nothing measurable. */
const UNMEASURED = { cpuSeconds: null, peakMemoryBytes: null };
const MEASURED = fs.existsSync("/proc/self/stat") ? { cpuSeconds: expect.any(Number), peakMemoryBytes: expect.any(Number) } : UNMEASURED;
const MiB = 1024 * 1024;

const folders: string[] = [];
afterAll(() => {
  for (const f of folders) fs.rmSync(f, { recursive: true, force: true });
});

function tmpFolder(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

/** A fresh action folder with the fixtures in analysis/ (and `extra` files: path → text). */
function actionFolder(extra: Record<string, string> = {}): string {
  const dir = tmpFolder("enclave-runtimes-");
  fs.cpSync(FIXTURES, path.join(dir, "analysis"), { recursive: true });
  for (const [f, text] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

interface Ran {
  result: ActionResult;
  output: string;
  dir: string;
  ms: number;
}

async function run(
  line: string,
  options: { dir?: string; config?: unknown; limits?: Partial<ActionLimits>; env?: Record<string, string>; sandbox?: "auto" | "required"; executor?: typeof executeAction; signal?: AbortSignal } = {},
): Promise<Ran> {
  const dir = options.dir ?? actionFolder();
  let output = "";
  const spec: ActionRun = {
    action: { name: "test_action", run: parseRunCommand(line), needs: [], outputs: {}, line: 1, ...(options.config === undefined ? {} : { config: options.config }) },
    workdir: dir,
    env: options.env ?? {},
    limits: { ...LIMITS, ...options.limits },
    onOutput: (chunk) => {
      output += chunk;
    },
    sandbox: options.sandbox ?? "auto",
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const started = Date.now();
  const result = await (options.executor ?? executeAction)(spec);
  return { result, output, dir, ms: Date.now() - started };
}

// A file outside every action's folder, with content no action should see.
let outside: string;
let marker: string;
beforeAll(() => {
  ensureBuilt();
  outside = tmpFolder("enclave-runtimes-outside-");
  marker = `marker-${randomBytes(8).toString("hex")}`;
  fs.writeFileSync(path.join(outside, "marker.txt"), marker);
});

describe("node:v1", () => {
  it("runs a TypeScript analysis with the fixed libraries and enclave/sdc, and gives it its config", { timeout: 60_000 }, async () => {
    const { result, output, dir } = await run("node:v1 analysis/analysis.ts", { config: { title: "Counts by region" } });
    expect(result, output).toEqual({ exitCode: 0, signal: null, timedOut: false, ...MEASURED });
    expect(output).toContain("analysis done");

    // Counts of 7 or less become 0, then all round to 5: east 7 → 0, north 15 → 15, south 61 → 60, west 8 → 10.
    expect(fs.readFileSync(path.join(dir, "output/table.csv"), "utf8").trim().split("\n")).toEqual(["region,count", "east,0", "north,15", "south,60", "west,10"]);
    const svg = fs.readFileSync(path.join(dir, "output/chart.svg"), "utf8");
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain("Counts by region");
    const png = fs.readFileSync(path.join(dir, "output/chart.png"));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(JSON.parse(fs.readFileSync(path.join(dir, "output/summary.json"), "utf8"))).toEqual({
      config: { title: "Counts by region" },
      mean: 15.166666666666666,
      rounded: 10,
      redacted: null,
      kept: 8,
    });
    // What the action wrote belongs to the runner, who can read it.
    const stat = fs.statSync(path.join(dir, "output/table.csv"));
    if (process.getuid) expect(stat.uid).toBe(process.getuid());
    expect(() => fs.accessSync(path.join(dir, "output/chart.png"), fs.constants.R_OK)).not.toThrow();
  });

  it("passes the exit code through", { timeout: 30_000 }, async () => {
    const { result, output } = await run("node:v1 analysis/probe.ts exit 3");
    expect(result, output).toEqual({ exitCode: 3, signal: null, timedOut: false, ...MEASURED });
    expect(output).toContain("exiting with 3");
  });

  it("lets a script import only the fixed libraries, whatever Enclave itself has installed", { timeout: 30_000 }, async () => {
    expect(fs.existsSync(path.join(ROOT, "node_modules", "pg"))).toBe(true);
    const { result, output } = await run("node:v1 analysis/probe.ts import pg");
    expect(result.exitCode).toBe(1);
    expect(output).toContain('"pg" is not one of the libraries an analysis script can import');
    expect(output).toContain("arquero");
  });

  it("says what is wrong with the script's path before running anything", async () => {
    expect((await run("node:v1 analysis/missing.ts")).result).toMatchObject({ exitCode: null, message: expect.stringContaining("analysis/missing.ts does not exist") });
    expect((await run("node:v1 analysis/report.py")).result.message).toContain("node:v1 runs .ts, .mts, .js, .mjs files");
    expect((await run("node:v1 ../outside.ts")).result.message).toContain("../outside.ts is outside the study's folder");
  });

  it("pins every library to the version installed and recorded in package.json", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    for (const [name, version] of Object.entries(NODE_V1_LIBRARIES)) {
      expect(pkg.dependencies[name], name).toBe(version);
      const installed = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string };
      expect(installed.version, name).toBe(version);
    }
  });
});

describe.runIf(BWRAP)(SANDBOX, () => {
  it("keeps the host's files from the action: /etc/passwd and a file outside its folder", { timeout: 30_000 }, async () => {
    const passwd = await run("node:v1 analysis/probe.ts read /etc/passwd");
    expect(passwd.result.exitCode).toBe(1);
    expect(passwd.output).toContain("ENOENT: no such file or directory, open '/etc/passwd'");
    expect(passwd.output).not.toContain("root:");

    const other = await run(`node:v1 analysis/probe.ts read ${path.join(outside, "marker.txt")}`);
    expect(other.result.exitCode).toBe(1);
    expect(other.output).toContain("ENOENT");
    expect(other.output).not.toContain(marker);
  });

  it("lets the action write only in its own folder", { timeout: 30_000 }, async () => {
    const mine = await run("node:v1 analysis/probe.ts write output/ok.txt", { dir: actionFolder({ "output/.keep": "" }) });
    expect(mine.result.exitCode, mine.output).toBe(0);
    expect(fs.readFileSync(path.join(mine.dir, "output/ok.txt"), "utf8")).toBe("written by the action\n");

    const target = path.join(outside, "written.txt");
    const elsewhere = await run(`node:v1 analysis/probe.ts write ${target}`);
    expect(elsewhere.result.exitCode).toBe(1);
    expect(elsewhere.output).toContain("ENOENT");
    expect(fs.existsSync(target)).toBe(false);

    // Enclave's own files and the system's are there, read-only.
    for (const file of [path.join(ROOT, "dist", "planted.js"), "/usr/planted.txt"]) {
      const r = await run(`node:v1 analysis/probe.ts write ${file}`);
      expect(r.result.exitCode).toBe(1);
      expect(r.output).toContain("EROFS: read-only file system");
      expect(fs.existsSync(file)).toBe(false);
    }
  });

  it("cuts the network: a connection to a server on this machine never arrives", { timeout: 30_000 }, async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections += 1;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const { result, output } = await run(`node:v1 analysis/probe.ts connect ${port}`);
      expect(result.exitCode).toBe(3);
      expect(output).toMatch(/cannot connect: (ECONNREFUSED|ENETUNREACH)/);
      expect(output).not.toContain("connected");
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it("gives the action none of the runner's environment, not even through /proc", { timeout: 30_000 }, async () => {
    const secret = `secret-${randomBytes(8).toString("hex")}`;
    process.env.ENCLAVE_TEST_SECRET = secret;
    try {
      const { result, output } = await run("node:v1 analysis/probe.ts secret");
      expect(result.exitCode).toBe(1);
      expect(output).toContain("no secret here");
      expect(output).not.toContain(secret);
    } finally {
      delete process.env.ENCLAVE_TEST_SECRET;
    }
  });

  it("runs the action as an unprivileged user with a clean environment", { timeout: 30_000 }, async () => {
    const dir = actionFolder({ "analysis/who.py": "import os, json\nprint(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'env': dict(os.environ)}))\n" });
    const { result, output } = await run("python:v1 analysis/who.py", { dir, env: { EXTRA: "given by the runner" } });
    expect(result.exitCode, output).toBe(0);
    const seen = JSON.parse(output) as { uid: number; gid: number; env: Record<string, string> };
    expect(seen.uid).toBe(65534);
    expect(seen.gid).toBe(65534);
    const { PWD: _pwd, ...env } = seen.env;
    expect(env).toEqual({
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: "/tmp",
      TMPDIR: "/tmp",
      LANG: "C.UTF-8",
      TZ: "UTC",
      PYTHONUNBUFFERED: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      EXTRA: "given by the runner",
    });
  });

  it("kills an action, and everything it started, at the wall-time limit", { timeout: 30_000 }, async () => {
    const { result, dir, ms } = await run("node:v1 analysis/probe.ts sleep", { limits: { wallSeconds: 2 } });
    expect(result).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: true, message: expect.stringContaining("wall-time limit of 2 s") });
    expect(ms).toBeLessThan(10_000);
    // The shell loop it started was writing a heartbeat; it has stopped.
    const beat = path.join(dir, "heartbeat.txt");
    expect(fs.existsSync(beat)).toBe(true);
    const last = fs.readFileSync(beat, "utf8");
    await new Promise((r) => setTimeout(r, 600));
    expect(fs.readFileSync(beat, "utf8")).toBe(last);
  });

  it("kills an action when the runner aborts it", { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    const { result, ms } = await run("node:v1 analysis/probe.ts sleep", { signal: controller.signal });
    expect(result).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: false, message: expect.stringContaining("cancelled") });
    expect(ms).toBeLessThan(10_000);
  });

  it("stops an action that allocates more than its memory limit", { timeout: 30_000 }, async () => {
    // Node reserves about 2 GB of address space for itself and its loader's thread; 3 GB leaves it 1 GB.
    const { result, output } = await run("node:v1 analysis/probe.ts alloc", { limits: { memoryMb: 3072 } });
    expect(result.exitCode).not.toBe(0);
    expect(result.message).toContain("ran out of memory (the limit is 3072 MB");
    expect(output).toContain("allocated 64 MB");
    expect(output).not.toContain("allocated 3072 MB");
  });

  it("stops an action at its CPU-time limit", { timeout: 30_000 }, async () => {
    const { result, ms } = await run("node:v1 analysis/probe.ts spin", { limits: { cpuSeconds: 1 } });
    expect(result).toMatchObject({ exitCode: null, signal: "SIGXCPU", timedOut: false, message: expect.stringContaining("CPU-time limit of 1 s") });
    expect(ms).toBeLessThan(15_000);
  });

  it("keeps python:v1 scripts in the same sandbox", { timeout: 30_000 }, async () => {
    const dir = actionFolder({ "analysis/peek.py": `print(open(${JSON.stringify(path.join(outside, "marker.txt"))}).read())\n` });
    const { result, output } = await run("python:v1 analysis/peek.py", { dir });
    expect(result.exitCode).toBe(1);
    expect(output).toContain("FileNotFoundError");
    expect(output).not.toContain(marker);
  });

  it("refuses nothing in required mode when bubblewrap works", { timeout: 30_000 }, async () => {
    const { result } = await run("node:v1 analysis/probe.ts exit 0", { sandbox: "required" });
    expect(result.exitCode).toBe(0);
  });
});

describe("without bubblewrap", () => {
  const noBwrap = createActionExecutor({ bubblewrap: () => false });

  it("refuses to run when the sandbox is required", async () => {
    const { result, output } = await run("node:v1 analysis/probe.ts exit 0", { executor: noBwrap, sandbox: "required" });
    expect(result).toEqual({
      exitCode: null,
      signal: null,
      timedOut: false,
      ...UNMEASURED,
      message: expect.stringContaining("refusing to run node:v1 without the sandbox: bubblewrap (bwrap) is required here"),
    });
    expect(output).toBe("");
  });

  it("warns, and runs a node script under Node's permission model: its folder only, no processes", { timeout: 60_000 }, async () => {
    const ok = await run("node:v1 analysis/analysis.ts", { executor: noBwrap });
    expect(ok.result.exitCode, ok.output).toBe(0);
    expect(ok.output).toContain("warning: bubblewrap (bwrap) does not work on this machine");
    expect(ok.output).toContain("Node's permission model");
    expect(fs.existsSync(path.join(ok.dir, "output/chart.png"))).toBe(true);

    const read = await run(`node:v1 analysis/probe.ts read ${path.join(outside, "marker.txt")}`, { executor: noBwrap });
    expect(read.result.exitCode).toBe(1);
    expect(read.output).toContain("ERR_ACCESS_DENIED");
    expect(read.output).not.toContain(marker);

    const passwd = await run("node:v1 analysis/probe.ts read /etc/passwd", { executor: noBwrap });
    expect(passwd.result.exitCode).toBe(1);
    expect(passwd.output).toContain("ERR_ACCESS_DENIED");

    const target = path.join(outside, "written.txt");
    const write = await run(`node:v1 analysis/probe.ts write ${target}`, { executor: noBwrap });
    expect(write.result.exitCode).toBe(1);
    expect(write.output).toContain("ERR_ACCESS_DENIED");
    expect(fs.existsSync(target)).toBe(false);

    const spawned = await run("node:v1 analysis/probe.ts spawn", { executor: noBwrap });
    expect(spawned.result.exitCode).not.toBe(0);
    expect(spawned.output).toContain("ERR_ACCESS_DENIED");
    expect(spawned.output).not.toContain("spawned\n");
  });

  it("still gives the action a clean environment and the wall-time limit", { timeout: 30_000 }, async () => {
    process.env.ENCLAVE_TEST_SECRET = "fallback-secret";
    try {
      const { result, output } = await run("node:v1 analysis/probe.ts secret", { executor: noBwrap });
      expect(result.exitCode).toBe(1);
      expect(output).not.toContain("fallback-secret");
    } finally {
      delete process.env.ENCLAVE_TEST_SECRET;
    }
    // (It cannot start processes here, so it just waits.)
    const slow = await run("node:v1 analysis/probe.ts idle", { executor: noBwrap, limits: { wallSeconds: 2 } });
    expect(slow.result).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: true, message: expect.stringContaining("wall-time limit of 2 s") });
    expect(slow.ms).toBeLessThan(10_000);
  });

  it("warns that python runs unsandboxed, and runs it", { timeout: 30_000 }, async () => {
    const { result, output } = await run("python:v1 analysis/report.py", { executor: noBwrap, config: { name: "researcher" } });
    expect(result.exitCode, output).toBe(0);
    expect(output).toContain("warning: bubblewrap (bwrap) does not work on this machine, so this action runs without the sandbox");
    expect(output).toContain("can read and write whatever you can");
  });
});

describe.runIf(fs.existsSync("/proc/self/stat"))("what an action uses (sampled in /proc)", () => {
  // A second of CPU time (not of the clock: on a busy machine the loop gets
  // less than a core), or 200 MiB held for half a second.
  const USES = [
    `if (process.argv[2] === "cpu") {`,
    `  const start = process.cpuUsage();`,
    `  let x = 0;`,
    `  for (let used = 0; used < 1e6; used = process.cpuUsage(start).user + process.cpuUsage(start).system) for (let i = 0; i < 1e5; i += 1) x += Math.sqrt(i);`,
    `  console.log("burned", x > 0);`,
    `} else {`,
    `  const held = Buffer.alloc(200 * 1024 * 1024);`,
    // Zeroed pages are not resident until written.
    `  held.fill(1);`,
    `  await new Promise((resolve) => setTimeout(resolve, 500));`,
    `  console.log("held", held.length);`,
    `}`,
    ``,
  ].join("\n");

  /** Node and Enclave's loader use CPU and memory of their own, so each action is also measured against the other. */
  async function measure(executor: typeof executeAction): Promise<void> {
    const dir = actionFolder({ "analysis/uses.mjs": USES });
    const cpu = await run("node:v1 analysis/uses.mjs cpu", { dir, executor });
    const memory = await run("node:v1 analysis/uses.mjs memory", { dir, executor });
    expect(cpu.result.exitCode, cpu.output).toBe(0);
    expect(memory.result.exitCode, memory.output).toBe(0);
    const [c, m] = [cpu.result, memory.result];
    expect(c.cpuSeconds).toBeGreaterThanOrEqual(0.8);
    expect(c.cpuSeconds! - m.cpuSeconds!).toBeGreaterThanOrEqual(0.5);
    expect(m.peakMemoryBytes).toBeGreaterThanOrEqual(150 * MiB);
    expect(m.peakMemoryBytes! - c.peakMemoryBytes!).toBeGreaterThanOrEqual(150 * MiB);
    // Nothing like a whole gigabyte, or ten seconds.
    expect(m.peakMemoryBytes).toBeLessThan(1024 * MiB);
    expect(c.cpuSeconds).toBeLessThan(10);
  }

  it.runIf(BWRAP)(`measures the CPU time and peak memory of a node:v1 action ${SANDBOX}`, { timeout: 60_000 }, async () => {
    await measure(executeAction);
  });

  it("measures them without bubblewrap too", { timeout: 60_000 }, async () => {
    await measure(createActionExecutor({ bubblewrap: () => false }));
  });

  it.runIf(BWRAP)("counts the processes an action starts inside the sandbox's PID namespace", { timeout: 60_000 }, async () => {
    // Two children at once, each burning half a second of CPU and holding 100 MiB.
    const child = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\nb = bytearray(100 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(0.5)\n";
    const script = `import subprocess, sys\nchildren = [subprocess.Popen([sys.executable, "-c", ${JSON.stringify(child)}]) for _ in range(2)]\nprint([c.wait() for c in children])\n`;
    const { result, output } = await run("python:v1 analysis/tree.py", { dir: actionFolder({ "analysis/tree.py": script }) });
    expect(result.exitCode, output).toBe(0);
    expect(output).toContain("[0, 0]");
    expect(result.cpuSeconds).toBeGreaterThanOrEqual(0.9);
    expect(result.peakMemoryBytes).toBeGreaterThanOrEqual(200 * MiB);
  });

  it("finds a process's descendants with or without the kernel's lists of children", { timeout: 30_000 }, async () => {
    // A process group of its own, so that the sleeps go with it.
    const root = spawn("/bin/sh", ["-c", "sleep 30 & sleep 30 & wait"], { stdio: "ignore", detached: true });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const lists = new ProcessTreeUsage(root.pid!, false);
      const scan = new ProcessTreeUsage(root.pid!, true);
      lists.sample();
      scan.sample();
      // Sleeping processes hold still: both ways find the same three.
      expect(scan.result()).toEqual(lists.result());
      const own = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${root.pid}/status`, "utf8"))![1]) * 1024;
      expect(lists.result().peakMemoryBytes).toBeGreaterThan(own);
    } finally {
      process.kill(-root.pid!, "SIGKILL");
    }
  });

  it("reads /proc/<pid>/stat whatever the command's name holds", () => {
    const line = "4242 (a) b (c) 1) S 17 4242 4242 0 -1 4194304 100 0 0 0 150 25 7 3 20 0 1 0 100 1000 50 18446744073709551615";
    expect(parseStat(line)).toEqual({ ppid: 17, ticks: 150 + 25 + 7 + 3 });
    expect(parseStat("garbage")).toBeUndefined();
  });

  it("says nothing when it never saw the process", () => {
    // Above the kernel's largest pid.
    const none = new ProcessTreeUsage(2 ** 22 + 1);
    none.sample();
    expect(none.result()).toEqual(UNMEASURED);
  });
});

const SETPRIV = findOnPath("setpriv");

describe.runIf(SETPRIV !== undefined && fs.existsSync("/bin/sh"))("an action dies with its runner (setpriv's parent-death signal)", () => {
  it("runs the command when its parent is the runner, and not at all when the runner is already gone", () => {
    const dir = tmpFolder("enclave-pdeathsig-");
    const ran = path.join(dir, "ran");
    const [program, args] = tiedToParent(SETPRIV!, process.pid, "/usr/bin/touch", [ran]);
    expect(spawnSync(program, args).status).toBe(0);
    expect(fs.existsSync(ran)).toBe(true);
    fs.rmSync(ran);
    // A parent that is not ours: as if the runner had died before the signal was set, and the command been re-parented.
    const [p2, a2] = tiedToParent(SETPRIV!, 1, "/usr/bin/touch", [ran]);
    expect(spawnSync(p2, a2).status).toBe(137);
    expect(fs.existsSync(ran)).toBe(false);
  });

  it("kills the action when its runner exits straight after starting it", { timeout: 60_000 }, async () => {
    // Each runner starts a long action and exits straight away, racing the action's start.
    const runner = `
      const { spawn } = require("node:child_process");
      const [program, ...args] = JSON.parse(process.argv[1]).map((a) => a === "PARENT" ? String(process.pid) : a);
      const child = spawn(program, args, { stdio: "ignore", detached: true });
      process.stdout.write(String(child.pid) + "\\n", () => process.exit(0));
    `;
    const [program, args] = tiedToParent(SETPRIV!, 0, "/bin/sleep", ["300"]);
    const command = JSON.stringify([program, ...args.map((a) => (a === "0" ? "PARENT" : a))]);
    const pids: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const r = spawnSync(process.execPath, ["-e", runner, command], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      pids.push(Number(r.stdout.trim()));
    }
    const alive = (pid: number) => {
      try {
        // A zombie is dead: it only waits for its new parent to reap it.
        return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 200 && pids.some(alive); i += 1) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
  });
});

describe("python:v1 and r:v1", () => {
  it("runs a python script with its arguments and config", { timeout: 30_000 }, async () => {
    const { result, output, dir } = await run("python:v1 analysis/report.py one two", { config: { name: "researcher" } });
    expect(result.exitCode, output).toBe(0);
    expect(output).toContain(`python ran ['one', 'two', '--config', '{"name":"researcher"}']`);
    expect(fs.readFileSync(path.join(dir, "output/report.txt"), "utf8")).toBe("hello researcher\n");
  });

  it("says so when python3 is not installed", async () => {
    const noPython = createActionExecutor({ findProgram: () => undefined });
    const { result } = await run("python:v1 analysis/report.py", { executor: noPython });
    expect(result).toEqual({ exitCode: null, signal: null, timedOut: false, ...UNMEASURED, message: "python:v1 needs python3, which is not installed on this machine" });
  });

  it.skipIf(findOnPath("Rscript") !== undefined)("says so when Rscript is not installed (skipped where it is)", async () => {
    const { result } = await run("r:v1 analysis/report.R");
    expect(result).toEqual({ exitCode: null, signal: null, timedOut: false, ...UNMEASURED, message: "r:v1 needs Rscript, which is not installed on this machine" });
  });
});

describe("enclave:v1", () => {
  it("runs generate-dataset on dummy data and writes its --output in the action's folder", { timeout: 60_000 }, async () => {
    const { result, output, dir } = await run("enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv");
    expect(result, output).toEqual({ exitCode: 0, signal: null, timedOut: false, ...MEASURED });
    const rows = fs.readFileSync(path.join(dir, "output/dataset.csv"), "utf8").trim().split("\n");
    expect(rows[0]).toBe("patient_id,sex");
    expect(rows).toHaveLength(11);
  });

  it("refuses paths that lead out of the action's folder", async () => {
    const dir = actionFolder();
    fs.symlinkSync(outside, path.join(dir, "escape"));
    expect((await run("enclave:v1 generate-dataset analysis/dataset_definition.ts --output ../dataset.csv", { dir })).result.message).toContain(
      "../dataset.csv is outside the study's folder",
    );
    expect((await run("enclave:v1 generate-dataset analysis/dataset_definition.ts --output=escape/dataset.csv", { dir })).result.message).toContain(
      "escape/dataset.csv is outside the study's folder",
    );
    expect((await run("enclave:v1 generate-dataset analysis/dataset_definition.ts --dummy-tables /tmp --output output/d.csv", { dir })).result.message).toContain(
      "/tmp is outside the study's folder",
    );
  });

  it.runIf(BWRAP)("runs generate-dataset against the database in DATABASE_URL, with the definition in its own sandbox", { timeout: 120_000 }, async () => {
    const db = path.join(tmpFolder("enclave-runtimes-db-"), "backend.db");
    const synth = spawnSync(process.execPath, [BIN, "synth", "--patients", "30", "--tables", "core", "--dsn", `sqlite://${db}`], { encoding: "utf8" });
    expect(synth.status, synth.stderr).toBe(0);
    const { result, output, dir } = await run("enclave:v1 generate-dataset analysis/dataset_definition.ts --output output/dataset.csv", {
      env: { DATABASE_URL: `sqlite://${db}` },
      sandbox: "required",
    });
    expect(result, output).toEqual({ exitCode: 0, signal: null, timedOut: false, ...MEASURED });
    expect(output).not.toContain(db);
    expect(fs.readFileSync(path.join(dir, "output/dataset.csv"), "utf8").split("\n")[0]).toBe("patient_id,sex");
  });
});

describe("sqlrunner:v1", () => {
  const tables = { "dummy_tables/patients.csv": "patient_id,sex,date_of_birth\n1,female,1980-01-01\n2,male,1990-02-01\n3,female,2000-03-01\n" };

  it("runs the query over --dummy-tables on this machine", { timeout: 30_000 }, async () => {
    const { result, output, dir } = await run("sqlrunner:v1 analysis/query.sql --dummy-tables dummy_tables --output output/by_sex.csv", { dir: actionFolder(tables) });
    expect(result, output).toEqual({ exitCode: 0, signal: null, timedOut: false, ...MEASURED });
    expect(fs.readFileSync(path.join(dir, "output/by_sex.csv"), "utf8")).toBe("sex,patients\nfemale,2\nmale,1\n");
  });

  it("says what to do when there is no database and no dummy tables", { timeout: 30_000 }, async () => {
    const { result, output } = await run("sqlrunner:v1 analysis/query.sql --output output/by_sex.csv");
    expect(result.exitCode).toBe(1);
    expect(output).toContain("error: sqlrunner runs against the backend's database, and there is none here (no DATABASE_URL); to try the query on your machine, add --dummy-tables DIR");
  });

  // SQLite cannot restrict a session, so this project's scope hides nothing (sqlrunner.test.ts tests the restriction).
  it("runs against the database in DATABASE_URL, read-only, ignoring --dummy-tables", { timeout: 30_000 }, async () => {
    const everyone = JSON.stringify(["include_t1oo", "include_ndoo"]);
    const db = path.join(tmpFolder("enclave-runtimes-db-"), "backend.db");
    const made = spawnSync(
      process.execPath,
      ["-e", `const D = require(${JSON.stringify(path.join(ROOT, "node_modules", "better-sqlite3"))}); const d = new D(${JSON.stringify(db)}); d.exec("CREATE TABLE patients (patient_id INTEGER, sex TEXT); INSERT INTO patients VALUES (1, 'male'), (2, 'male')"); d.close();`],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const { result, output, dir } = await run("sqlrunner:v1 analysis/query.sql --dummy-tables dummy_tables --output output/by_sex.csv", {
      dir: actionFolder(tables),
      env: { DATABASE_URL: `sqlite://${db}`, ENCLAVE_PERMISSIONS: everyone },
    });
    expect(result, output).toEqual({ exitCode: 0, signal: null, timedOut: false, ...MEASURED });
    expect(fs.readFileSync(path.join(dir, "output/by_sex.csv"), "utf8")).toBe("sex,patients\nmale,2\n");

    const dropped = await run("sqlrunner:v1 analysis/drop.sql --output output/x.csv", {
      dir: actionFolder({ "analysis/drop.sql": "DROP TABLE patients" }),
      env: { DATABASE_URL: `sqlite://${db}`, ENCLAVE_PERMISSIONS: everyone },
    });
    expect(dropped.result.exitCode).toBe(1);
    expect(dropped.output).toContain("the database refused the query");
  });
});

describe("enclave/sdc", () => {
  it("rounds to the nearest multiple, ties to the even one as ehrQL does", () => {
    expect([0, 2, 3, 12, 13, 17, 18].map((n) => roundToNearest(n))).toEqual([0, 0, 5, 10, 15, 15, 20]);
    expect([15, 25, 35].map((n) => roundToNearest(n, 10))).toEqual([20, 20, 40]);
    expect(() => roundToNearest(3, 0)).toThrow(/base must be a positive number/);
  });

  it("suppresses counts at or below the threshold", () => {
    expect([0, 7, 8, 100].map((n) => redact(n))).toEqual([null, null, 8, 100]);
    expect(suppressSmallCounts(10, 10)).toBeNull();
    expect(suppressSmallCounts(11, 10)).toBe(11);
  });

  it("applies generate-measures' disclosure control to columns of rows", () => {
    const rows = [
      { group: "a", n: 7, d: 100 },
      { group: "b", n: 8, d: null },
      { group: "c", n: 13, d: 22 },
    ];
    expect(disclosureControlColumns(rows, ["n", "d"])).toEqual([
      { group: "a", n: 0, d: 100 },
      { group: "b", n: 10, d: null },
      { group: "c", n: 15, d: 20 },
    ]);
    expect(rows[0]!.n).toBe(7);
    expect(() => disclosureControlColumns([{ n: 2.5 }], "n")).toThrow(/row 1, column "n"/);
    expect(() => disclosureControlColumns([{ n: "12" }], "n")).toThrow(/row 1, column "n" is "12"/);
  });
});
