// Shared by the airlock tests: the engines (SQLite always, PostgreSQL when
// ENCLAVE_TEST_POSTGRES_URL is set, each store in a fresh schema dropped at the
// end), a backend folder with workspaces whose jobs "wrote" level 4 files, the
// cast of people, and a driver that brings a request to any state.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll } from "vitest";
import { AuditLog } from "../../src/audit/index.js";
import type { Principal, ProjectStatus } from "../../src/jobserver/permissions.js";
import { Airlock, AirlockStore, SYSTEM, type Actor, type RequestStatus, type WorkspaceInfo } from "../../src/airlock/index.js";
import type { Manifest, ManifestEntry } from "../../src/pipeline/metadata.js";
import { storeEngines } from "../support/stores.js";

export const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-airlock-")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
export const ENGINES = storeEngines(() => path.join(tmp, `airlock-${++n}.db`), "airlock_test");
export type Engine = (typeof ENGINES)[number];

// ---------------------------------------------------------------------------
// People

const person = (username: string, globalRoles: Principal["globalRoles"] = [], projectRoles: Principal["projectRoles"] = {}): Principal => ({ username, globalRoles, projectRoles });

/** The author: a developer on project 1. */
export const alice = person("alice", [], { 1: ["ProjectDeveloper"] });
/** Output checkers. */
export const bob = person("bob", ["OutputChecker"]);
export const carol = person("carol", ["OutputChecker"]);
export const dave = person("dave", ["OutputChecker"]);
/** Someone with no role anywhere. */
export const eve = person("eve");
/** Another developer on project 1: sees alice's requests, may not act on them. */
export const mallory = person("mallory", [], { 1: ["ProjectDeveloper"] });
/** A developer on project 1 who is also an output checker. */
export const olivia = person("olivia", ["OutputChecker"], { 1: ["ProjectDeveloper"] });
export { SYSTEM };

// ---------------------------------------------------------------------------
// The backend: workspaces whose jobs wrote files

export const SAFE_TABLE = "group,count\na,100\nb,205\n";
export const SMALL_TABLE = "group,count\na,3\nb,100\n";

const sha256 = (bytes: string | Buffer) => createHash("sha256").update(bytes).digest("hex");

export class Backend {
  readonly backendDir: string;
  readonly airlockDir: string;
  readonly workspaces = new Map<string, WorkspaceInfo>();

  constructor(root = fs.mkdtempSync(path.join(tmp, "backend-"))) {
    this.backendDir = path.join(root, "backend");
    this.airlockDir = path.join(root, "airlock");
  }

  addWorkspace(name: string, project = 1, status: ProjectStatus = "ongoing"): WorkspaceInfo {
    const ws = { name, project: { number: project, status }, archived: false };
    this.workspaces.set(name, ws);
    return ws;
  }

  lookup = async (name: string): Promise<WorkspaceInfo | undefined> => {
    const ws = this.workspaces.get(name);
    return ws && structuredClone(ws);
  };

  manifestFile(ws: string): string {
    return path.join(this.backendDir, "workspaces", ws, "metadata", "manifest.json");
  }

  manifest(ws: string): Manifest {
    const f = this.manifestFile(ws);
    return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as Manifest) : { version: 1, workspace: ws, repo: null, files: {} };
  }

  /** A job writes a file: level 4 copy and manifest entry agree, unless `entry` says otherwise. */
  write(ws: string, p: string, content: string, entry: Partial<ManifestEntry> = {}): ManifestEntry {
    const m = this.manifest(ws);
    const e: ManifestEntry = {
      level: "moderately_sensitive",
      action: "analyse",
      job_id: `job-${randomBytes(4).toString("hex")}`,
      job_request: "request-1",
      user: "alice",
      repo: null,
      commit: "0123456789abcdef0123456789abcdef01234567",
      size: Buffer.byteLength(content),
      timestamp: new Date().toISOString(),
      sha256: sha256(content),
      excluded: false,
      excluded_reason: null,
      rows: null,
      columns: null,
      ...entry,
    };
    m.files[p] = e;
    fs.mkdirSync(path.dirname(this.manifestFile(ws)), { recursive: true });
    fs.writeFileSync(this.manifestFile(ws), JSON.stringify(m, null, 2));
    if (e.level === "moderately_sensitive" && e.excluded === false) this.tamper(ws, p, content);
    return e;
  }

  /** Changes the level 4 file without the manifest knowing. */
  tamper(ws: string, p: string, content: string): void {
    const file = path.join(this.backendDir, "level4", ws, ...p.split("/"));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

// ---------------------------------------------------------------------------
// An airlock on an engine

export interface World {
  airlock: Airlock;
  store: AirlockStore;
  audit: AuditLog;
  backend: Backend;
  close(): Promise<void>;
}

/** An airlock on the engine; without one, SQLite in memory (store and audit log) for speed. */
export async function openWorld(engine: Engine | undefined, backend = new Backend()): Promise<World> {
  const where = engine ? engine[1]() : { target: ":memory:" };
  const store = await AirlockStore.open(where.target, { schema: where.schema });
  const audit = await AuditLog.open(engine ? path.join(fs.mkdtempSync(path.join(tmp, "audit-")), "audit.db") : ":memory:");
  const airlock = new Airlock({ store, audit, workspaces: backend.lookup, backendDir: backend.backendDir, airlockDir: backend.airlockDir });
  return {
    airlock,
    store,
    audit,
    backend,
    close: async () => {
      await store.close();
      await audit.close();
    },
  };
}

// ---------------------------------------------------------------------------
// Bringing a request to a state

export const TABLE = "output/table.csv";
export const GROUP = "tables";

/**
 * A request by alice in `ws` holding one output file (TABLE in GROUP), moved to
 * `state` the plainest way: bob reviews first, then carol, both approving;
 * withdrawn is withdrawn from pending (never submitted); returned is returned
 * after both reviews.
 */
export async function requestIn(w: World, ws: string, state: RequestStatus): Promise<number> {
  const a = w.airlock;
  if (!w.backend.workspaces.has(ws)) w.backend.addWorkspace(ws);
  w.backend.write(ws, TABLE, SAFE_TABLE);
  const id = (await a.addFile(alice, { workspace: ws, path: TABLE, group: GROUP })).request.id;
  await a.setGroupText(alice, id, GROUP, { context: "counts by group", controls: "rounded to 5, small counts suppressed" });
  if (state === "pending") return id;
  if (state === "withdrawn") return (await a.withdraw(alice, id)).request.id;
  await a.submit(alice, id, { confirm: true });
  if (state === "submitted") return id;
  await reviewAll(a, bob, id, "approved");
  if (state === "partially_reviewed") return id;
  await reviewAll(a, carol, id, "approved");
  if (state === "reviewed") return id;
  if (state === "returned") return (await a.returnRequest(bob, id)).request.id;
  if (state === "rejected") return (await a.reject(bob, id)).request.id;
  await a.approve(bob, id);
  if (state === "approved") return id;
  const files = await a.releaseList(SYSTEM, id);
  for (const f of files) await a.markReleased(SYSTEM, id, f.name, { sha256: f.sha256 });
  return id;
}

/** The reviewer votes `vote` on every output file, comments where needed, and submits. */
export async function reviewAll(a: Airlock, reviewer: Actor, id: number, vote: "approved" | "changes_requested"): Promise<void> {
  const view = await a.getRequest(reviewer, id);
  for (const f of view.files.filter((x) => x.kind === "output")) await a.review(reviewer, id, f.path, vote);
  if (vote === "changes_requested") {
    for (const g of new Set(view.files.filter((x) => x.kind === "output").map((x) => x.group))) await a.comment(reviewer, id, g, "please round these", "private");
  }
  await a.submitReview(reviewer, id);
}
