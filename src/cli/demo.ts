// `enclave demo`: the whole platform on one machine, in one command. It builds
// a synthetic backend (DuckDB), starts the job server, an agent and Airlock on
// 127.0.0.1, creates demo users (a researcher, two output checkers, an
// administrator), a project and a workspace holding the example study (what
// `enclave init` writes, in a git repository), runs the study's jobs through
// the job server and the agent, opens a release request in Airlock for one of
// its level 4 outputs, and prints the addresses and logins. Everything lives in
// one folder (default ./enclave-demo), made afresh each time.
//
// The passwords are random and printed once; the services run until Ctrl-C
// (or, with --exit, the command stops them as soon as the demo is set up).
// Try it: log in to Airlock as checker1 and checker2 and approve the request;
// the uploader sends the file to the job server, where the researcher sees it
// on the workspace's page.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { type RunningAgent, startAgent } from "../agent/index.js";
import { type AirlockServer, startAirlockServer } from "../airlock/index.js";
import { AuditLog } from "../audit/index.js";
import { DuckdbConnection } from "../engines/sql/index.js";
import { type JobServer, Store, startJobServer, submitJobRequest } from "../jobserver/index.js";
import { synthesize } from "../synth/index.js";
import { UserError } from "./errors.js";
import { initStudy } from "./init.js";

const MARKER = ".enclave-demo";

export interface DemoOptions {
  dir: string;
  patients: number;
  port: number;
  /** Airlock's port (0: any free port). */
  airlockPort?: number;
  /** Open the release request (default true; the tests make it in a browser instead). */
  openRelease?: boolean;
  /** Stop the services once the demo is set up (for tests and scripts). */
  exit?: boolean;
  /** Where the addresses and logins go (default standard output). */
  print?: (text: string) => void;
  /** Where progress goes (default standard error). */
  log?: (line: string) => void;
}

export interface Demo {
  jobServer: string;
  airlock: string;
  /** The release request opened in Airlock (null with openRelease false). */
  releaseRequest: number | null;
  logins: Record<"researcher" | "checker1" | "checker2" | "admin", string>;
  jobRequest: string;
  stop(): Promise<void>;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("Run the whole platform on this machine: a synthetic backend, the job server, an agent and Airlock, demo users, a study, its jobs and a release request.")
    .option("--dir <dir>", "the demo's folder (made afresh each time)", "enclave-demo")
    .option("--patients <n>", "patients in the synthetic backend", "1000")
    .option("--port <n>", "the job server's port (0: any free port)", "8000")
    .option("--airlock-port <n>", "Airlock's port (0: any free port)", "8100")
    .option("--exit", "stop once everything is set up, instead of serving until Ctrl-C")
    .action(async (opts: { dir: string; patients: string; port: string; airlockPort: string; exit?: boolean }) => {
      const demo = await runDemo({ dir: opts.dir, patients: Number(opts.patients), port: Number(opts.port), airlockPort: Number(opts.airlockPort), exit: opts.exit ?? false });
      if (opts.exit) return;
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          process.stderr.write("\nstopping the demo\n");
          void demo.stop().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}

export async function runDemo(options: DemoOptions): Promise<Demo> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = path.resolve(options.dir);
  fresh(dir);

  log(`building a synthetic backend of ${options.patients} patients`);
  const backendFile = path.join(dir, "backend.duckdb");
  const conn = await DuckdbConnection.open(backendFile);
  try {
    await synthesize({ patients: options.patients, connection: conn, seed: 1 });
  } finally {
    await conn.close();
  }

  log("creating the demo's users, project and workspace");
  const studyDir = path.join(dir, "study");
  initStudy(studyDir, new Date(), true);
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=Enclave demo", "-c", "user.email=demo@example.org", "-c", "commit.gpgsign=false", ...args], { cwd: studyDir, stdio: "pipe" });
  git("init", "-q", "--initial-branch=main");
  git("add", "-A");
  git("commit", "-qm", "The example study");

  const audit = await AuditLog.open(path.join(dir, "audit.db"));
  const store = await Store.open(path.join(dir, "jobserver.db"));
  const logins = { researcher: password(), checker1: password(), checker2: password(), admin: password() };
  await store.createOrg("Demo University");
  await store.createUser({ username: "researcher", password: logins.researcher, fullName: "Demo Researcher" });
  await store.createUser({ username: "checker1", password: logins.checker1, fullName: "First Output Checker" });
  await store.createUser({ username: "checker2", password: logins.checker2, fullName: "Second Output Checker" });
  await store.createUser({ username: "admin", password: logins.admin, fullName: "Demo Administrator", isStaff: true });
  for (const c of ["checker1", "checker2"]) await store.grantGlobalRole(c, "OutputChecker");
  await store.grantGlobalRole("admin", "StaffAreaAdministrator");
  await store.grantGlobalRole("admin", "ServiceAdministrator");
  await store.createProject({ number: 1, name: "Asthma in the demo population", org: "Demo University" });
  await store.addMember(1, "researcher", ["ProjectDeveloper"]);
  const { token } = await store.createBackend("demo");
  await store.addBackendMember("demo", "researcher");
  await store.createWorkspace({ project: 1, name: "asthma-demo", repo: studyDir, branch: "main" });
  for (const action of ["demo.create_users", "demo.create_project", "demo.create_workspace"]) await audit.append({ actor: "enclave demo", action, subject: "demo", details: {} });

  let server: JobServer | undefined;
  let agent: RunningAgent | undefined;
  let airlock: AirlockServer | undefined;
  const stop = async () => {
    await airlock?.close();
    await agent?.stop();
    await server?.close();
    await store.close();
    await audit.close();
  };
  // The job server takes repositories from the demo's own folder only, where the study is.
  const allowedRepos = [path.dirname(studyDir)];
  try {
    server = await startJobServer({ store, auditLog: audit, port: options.port, allowedRepos });
    agent = await startAgent({ server: server.url, backend: "demo", token, name: "demo-agent", dir: path.join(dir, "agent"), database: `duckdb://${backendFile}`, log: () => {} });

    log("running the study's jobs (run_all) through the job server and the agent");
    const request = await submitJobRequest({ store, workspace: "asthma-demo", backend: "demo", actions: ["run_all"], force: false, requester: "researcher", allowedRepos });
    await audit.append({ actor: "researcher", action: "job_request.create", subject: `job_request:${request.identifier}`, details: { workspace: "asthma-demo", actions: ["run_all"], via: "enclave demo" } });
    const done = await finished(store, request.identifier);
    if (done.status !== "succeeded") throw new UserError(`the demo's jobs ${done.status}: ${done.message}; see ${path.join(dir, "agent/workspaces/asthma-demo/metadata")}`);

    log("starting Airlock and opening a release request for the study's table");
    const agentDir = path.join(dir, "agent");
    airlock = await startAirlockServer({ jobServer: server.url, backend: "demo", token, agentDir, airlockDir: path.join(dir, "airlock"), port: options.airlockPort ?? 8100, log: () => {} });
    let releaseRequest: number | null = null;
    if (options.openRelease ?? true) {
      const researcher = await store.principal("researcher");
      const group = "asthma";
      let view = await airlock.airlock.addFile(researcher, { workspace: "asthma-demo", path: "output/asthma_by_age_band.csv", group });
      view = await airlock.airlock.setGroupText(researcher, view.request.id, group, {
        context: "Patients with an asthma diagnosis by age band, from the demo's synthetic backend.",
        controls: "Counts of 7 or fewer suppressed and the rest rounded to the nearest 5 (enclave/sdc in analysis/report.ts).",
      });
      view = await airlock.airlock.submit(researcher, view.request.id, { confirm: true });
      releaseRequest = view.request.id;
    }

    const result: Demo = { jobServer: server.url, airlock: airlock.url, releaseRequest, logins, jobRequest: request.identifier, stop };
    print(result, dir, options.print ?? ((text) => process.stdout.write(text)));
    if (options.exit) await stop();
    return result;
  } catch (e) {
    await stop();
    throw e;
  }
}

function fresh(dir: string): void {
  if (fs.existsSync(dir)) {
    // Only a folder the demo made is removed: never someone's files.
    if (!fs.existsSync(path.join(dir, MARKER))) {
      if (fs.readdirSync(dir).length > 0) throw new UserError(`${dir} exists and is not a demo folder: give another --dir`);
    } else fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, MARKER), "made by enclave demo; removed by the next one\n");
}

function password(): string {
  return randomBytes(12).toString("base64url");
}

async function finished(store: Store, identifier: string, timeoutMs = 600_000): Promise<{ status: string; message: string }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await store.getJobRequest(identifier);
    if (r && ["succeeded", "failed", "cancelled"].includes(r.status)) return r;
    if (Date.now() > until) throw new UserError(`the demo's jobs did not finish within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function print(demo: Demo, dir: string, write: (text: string) => void): void {
  const lines = [
    "",
    "Enclave demo is running (Ctrl-C stops it).",
    "",
    `  Job server:  ${demo.jobServer}    (public job log; the job request: ${demo.jobServer}/job-requests/${demo.jobRequest})`,
    demo.releaseRequest === null
      ? `  Airlock:     ${demo.airlock}    (inside the backend)`
      : `  Airlock:     ${demo.airlock}    (inside the backend; release request ${demo.releaseRequest}, submitted and waiting for two checkers: ${demo.airlock}/requests/${demo.releaseRequest})`,
    "",
    "  Logins (username / password):",
    `    researcher  ${demo.logins.researcher}    ProjectDeveloper of project 1, workspace asthma-demo`,
    `    checker1    ${demo.logins.checker1}    OutputChecker`,
    `    checker2    ${demo.logins.checker2}    OutputChecker`,
    `    admin       ${demo.logins.admin}    StaffAreaAdministrator, ServiceAdministrator`,
    "",
    `  Inside the backend: level 3 in ${path.join(dir, "agent/workspaces/asthma-demo")}, level 4 in ${path.join(dir, "agent/level4/asthma-demo")}`,
    "",
  ];
  write(lines.join("\n"));
}
