// A small stand-in for the job server's side of the backend services'
// protocol (docs/api.md, "The backend services' protocol (Airlock)"), on
// node:http at 127.0.0.1: logins, access, workspaces and releases, with the
// switches the tests need (answer 503, stop listening, corrupt what it
// receives) and a record of every call.

import { createHash } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { GlobalRole, ProjectRole, ProjectStatus } from "../../src/jobserver/permissions.js";

export interface FakeUser {
  password: string;
  fullName?: string;
  globalRoles: GlobalRole[];
  projectRoles: Record<number, ProjectRole[]>;
}

interface FakeRelease {
  id: string;
  workspace: string;
  request: string;
  releasedBy: string;
  files: { name: string; size: number; sha256: string; date: string; received: boolean; bytes?: Buffer }[];
}

export class FakeJobServer {
  readonly backend = "tpp";
  readonly token = "backend-token-0123456789";
  readonly users = new Map<string, FakeUser>();
  readonly projects = new Map<number, { number: number; name: string; status: ProjectStatus; category: string }>();
  readonly workspaces = new Map<string, { name: string; project: number; archived: boolean; repo: string; branch: string }>();
  readonly releases = new Map<string, FakeRelease>();
  readonly calls: string[] = [];
  /** Answer every call with this status (e.g. 503) instead. */
  failWith: number | undefined;
  /** Flip a byte of every file received before hashing it (a transfer gone wrong). */
  corrupt = false;
  private server: Server | undefined;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  addUser(username: string, user: Partial<FakeUser> = {}): void {
    this.users.set(username, { password: `pw-${username}`, globalRoles: [], projectRoles: {}, ...user });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(e) }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening: calls then fail to connect, as when the job server is down. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private access(username: string) {
    const u = this.users.get(username)!;
    const all = u.globalRoles.includes("OutputChecker");
    const projects = [...this.projects.values()].filter((p) => all || (u.projectRoles[p.number] ?? []).length > 0);
    const numbers = new Set(projects.map((p) => p.number));
    return {
      user: { username, fullName: u.fullName ?? username },
      access: {
        globalRoles: u.globalRoles,
        projectRoles: Object.entries(u.projectRoles).map(([project, roles]) => ({ project: Number(project), roles })),
        projects,
        workspaces: [...this.workspaces.values()].filter((w) => numbers.has(w.project)),
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    this.calls.push(`${req.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const send = (status: number, value: unknown): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (this.failWith !== undefined) return send(this.failWith, { error: "the fake job server is failing on purpose" });
    if (req.headers.authorization !== `Bearer ${this.token}` || req.headers["enclave-backend"] !== this.backend) return send(401, { error: "wrong backend token" });
    const parts = url.pathname.split("/").map(decodeURIComponent);
    if (req.method === "POST" && url.pathname === "/api/backend/login") {
      const { username, password } = JSON.parse(body.toString("utf8")) as { username: string; password: string };
      const u = this.users.get(username);
      if (!u || u.password !== password) return send(401, { error: "wrong username or password" });
      return send(200, this.access(username));
    }
    if (req.method === "GET" && parts[3] === "access" && parts.length === 5) {
      return this.users.has(parts[4]!) ? send(200, this.access(parts[4]!)) : send(404, { error: "no such user" });
    }
    if (req.method === "GET" && parts[3] === "workspaces" && parts.length === 5) {
      const w = this.workspaces.get(parts[4]!);
      return w ? send(200, { workspace: w, project: this.projects.get(w.project) }) : send(404, { error: "no such workspace" });
    }
    if (req.method === "POST" && url.pathname === "/api/backend/releases") {
      const r = JSON.parse(body.toString("utf8")) as Omit<FakeRelease, "id">;
      const existing = [...this.releases.values()].find((x) => x.request === r.request && x.workspace === r.workspace);
      const view = (x: FakeRelease) => ({ id: x.id, workspace: x.workspace, request: x.request, files: x.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, received: f.received })) });
      if (existing) {
        const same = JSON.stringify(existing.files.map((f) => [f.name, f.sha256])) === JSON.stringify(r.files.map((f) => [f.name, f.sha256]));
        return same ? send(200, { release: view(existing) }) : send(409, { error: "a different list for this request" });
      }
      const release: FakeRelease = { ...r, id: `rel-${this.releases.size + 1}`, files: r.files.map((f) => ({ ...f, received: false })) };
      this.releases.set(release.id, release);
      return send(201, { release: view(release) });
    }
    if (req.method === "PUT" && parts[3] === "releases" && parts[5] === "files") {
      const release = this.releases.get(parts[4]!);
      const file = release?.files.find((f) => f.name === url.searchParams.get("name"));
      if (!release || !file) return send(404, { error: "no such release or file" });
      const got = Buffer.from(body);
      if (this.corrupt && got.length > 0) got[0] = got[0]! ^ 0xff;
      const sha256 = createHash("sha256").update(got).digest("hex");
      if (sha256 !== file.sha256) return send(409, { error: `received bytes hash to ${sha256}, the list says ${file.sha256}` });
      file.received = true;
      file.bytes = got;
      return send(200, { file: { name: file.name, size: file.size, sha256, received: true } });
    }
    send(404, { error: `the fake job server has no ${req.method} ${url.pathname}` });
  }
}
