// Shared by Airlock's web tests: a fake job server with the cast of people, an
// agent-like folder with a workspace whose job wrote level 4 files, Airlock
// on 127.0.0.1 with a clock the test moves, browsers that keep cookies and
// CSRF tokens, and a check of the pages' accessibility rules.

import * as fs from "node:fs";
import * as path from "node:path";
import { type AirlockServer, type AirlockServerOptions, startAirlockServer } from "../../src/airlock/index.js";
import { type Answer, Browser } from "../jobserver/http-helpers.js";
import { FakeJobServer } from "./fake-jobserver.js";
import { Backend } from "./helpers.js";

export const WS = "ws";
export const CSV = "output/table.csv";
/** A count of 3 fails the automated check (small number); the rest pass. */
export const TABLE_V1 = "group,count\na,3\nb,100\nc,205\n";
export const TABLE_V2 = "group,count\na,10\nb,100\nc,205\n";

export interface WebWorld {
  fake: FakeJobServer;
  backend: Backend;
  server: AirlockServer;
  base: string;
  /** Moves Airlock's clock forward. */
  advance(ms: number): void;
  logs: string[];
  /** Every page fetched with GET by any browser (for the accessibility check). */
  pages: { url: string; text: string }[];
  login(username: string): Promise<Browser>;
  close(): Promise<void>;
}

/** A browser that records every page it gets. */
export class RecordingBrowser extends Browser {
  constructor(
    base: string,
    private readonly pages: { url: string; text: string }[],
  ) {
    super(base);
  }

  override async get(url: string, headers?: Record<string, string>): Promise<Answer> {
    const a = await super.get(url, headers);
    // A raw file is the study's content, not one of Airlock's pages.
    if (a.status === 200 && (a.headers.get("content-type") ?? "").startsWith("text/html") && !url.includes("/raw?")) this.pages.push({ url, text: a.text });
    return a;
  }
}

export async function startWebWorld(options: Partial<AirlockServerOptions> = {}): Promise<WebWorld> {
  const fake = new FakeJobServer();
  await fake.start();
  fake.projects.set(1, { number: 1, name: "Diabetes", status: "ongoing", category: "approved" });
  fake.projects.set(2, { number: 2, name: "Other", status: "ongoing", category: "approved" });
  fake.workspaces.set(WS, { name: WS, project: 1, archived: false, repo: "/srv/repos/study.git", branch: "main" });
  fake.workspaces.set("other-ws", { name: "other-ws", project: 2, archived: false, repo: "/srv/repos/other.git", branch: "main" });
  fake.addUser("alice", { projectRoles: { 1: ["ProjectDeveloper"] } });
  fake.addUser("mallory", { projectRoles: { 1: ["ProjectDeveloper"] } });
  fake.addUser("collab", { projectRoles: { 1: ["ProjectCollaborator"] } });
  fake.addUser("bob", { globalRoles: ["OutputChecker"] });
  fake.addUser("carol", { globalRoles: ["OutputChecker"] });
  fake.addUser("dave", { globalRoles: ["OutputChecker"] });
  fake.addUser("eve");

  const backend = new Backend();
  backend.write(WS, CSV, TABLE_V1);
  backend.write(WS, "output/notes.txt", "how the table was made\n", { action: "notes" });
  fs.writeFileSync(path.join(backend.backendDir, "workspaces", WS, "metadata", "analyse.log"), "starting\n\x1b[31mwarning: <b>red</b>\x1b[0m\ndone\n\n==== enclave job summary ====\njob_id:         job-latest\n");

  let now = Date.parse("2026-03-01T09:00:00Z");
  const logs: string[] = [];
  const server = await startAirlockServer({
    jobServer: fake.url,
    backend: fake.backend,
    token: fake.token,
    agentDir: backend.backendDir,
    airlockDir: backend.airlockDir,
    storeUrl: ":memory:",
    auditUrl: ":memory:",
    clock: () => new Date(now),
    workspaceCacheMs: 0,
    uploader: false,
    log: (m) => logs.push(m),
    ...options,
  });
  const pages: { url: string; text: string }[] = [];
  return {
    fake,
    backend,
    server,
    base: server.url,
    logs,
    pages,
    advance: (ms) => {
      now += ms;
    },
    login: async (username) => {
      const b = new RecordingBrowser(server.url, pages);
      await b.get("/login");
      const a = await b.post("/login", { username, password: `pw-${username}` });
      if (a.status !== 303) throw new Error(`logging in ${username} answered ${a.status}: ${a.text.slice(0, 300)}`);
      await b.get("/");
      return b;
    },
    close: async () => {
      await server.close();
      await fake.stop();
    },
  };
}

/** The request number a redirect to a request page names. */
export function requestOf(a: Answer): number {
  const m = /\/requests\/(\d+)/.exec(a.location ?? "");
  if (!m) throw new Error(`expected a redirect to a request, got ${a.status} ${a.location ?? ""}: ${a.text.slice(0, 300)}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------
// ACCESSIBILITY

/**
 * The rules every page keeps, checked on its markup: a language, one h1 and
 * no skipped heading level, a label for every field, scope on every table
 * header, a caption or label for every table, and alt text on every image.
 */
export function accessibilityProblems(page: string): string[] {
  const problems: string[] = [];
  if (!/<html lang="[a-z]{2}/.test(page)) problems.push("no lang on <html>");
  const levels = [...page.matchAll(/<h([1-6])[\s>]/g)].map((m) => Number(m[1]));
  if (levels.filter((l) => l === 1).length !== 1) problems.push(`${levels.filter((l) => l === 1).length} h1 elements`);
  levels.forEach((l, i) => {
    if (i > 0 && l > levels[i - 1]! + 1) problems.push(`heading h${l} follows h${levels[i - 1]}`);
  });
  const ids = new Set([...page.matchAll(/<label for="([^"]+)"/g)].map((m) => m[1]));
  for (const m of page.matchAll(/<(input|select|textarea)\b([^>]*)>/g)) {
    const attrs = m[2]!;
    if (/type="(hidden|submit)"/.test(attrs)) continue;
    const id = /\bid="([^"]+)"/.exec(attrs)?.[1];
    if (!(id && ids.has(id)) && !/aria-label=/.test(attrs)) problems.push(`a ${m[1]} without a label: <${m[1]}${attrs}>`);
  }
  for (const m of page.matchAll(/<th\b([^>]*)>/g)) if (!/scope="(col|row)"/.test(m[1]!)) problems.push(`a th without scope: <th${m[1]}>`);
  for (const m of page.matchAll(/<table\b[^>]*>\s*(<caption>)?/g)) if (!m[1]) problems.push("a table without a caption");
  for (const m of page.matchAll(/<img\b([^>]*)>/g)) if (!/alt="[^"]+"/.test(m[1]!)) problems.push("an image without alt text");
  if (!/:focus-visible/.test(page) && !/<link rel="stylesheet"/.test(page)) problems.push("no stylesheet (focus styles)");
  return problems;
}
