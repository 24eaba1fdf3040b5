// Helpers for the job server's web tests: a study repository in git, a browser
// that keeps cookies and the CSRF token of the last page, and an API client.

import * as fs from "node:fs";
import * as path from "node:path";
import { git } from "../support/git.js";

/** A git repository with a project.yaml whose only action needs no database, so requests.ts validates it quickly. */
export function studyRepo(dir: string): { repo: string; commit: string } {
  fs.mkdirSync(path.join(dir, "analysis"), { recursive: true });
  fs.writeFileSync(
    path.join(dir, "project.yaml"),
    ["version: 4", "actions:", "  report:", "    run: node:v1 analysis/report.js", "    outputs:", "      moderately_sensitive:", "        table: output/report.csv", ""].join("\n"),
  );
  fs.writeFileSync(path.join(dir, "analysis", "report.js"), "console.log('report');\n");
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "a study");
  return { repo: dir, commit: git(dir, "rev-parse", "HEAD") };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

/** A browser: cookies kept between requests, and the CSRF token of the last page that had a form. */
export class Browser {
  readonly cookies = new Map<string, string>();
  csrf: string | undefined;

  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async request(method: string, url: string, options: { form?: Record<string, string | string[]>; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
    let body = options.body;
    if (options.form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options.form)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
      body = params.toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const res = await fetch(this.base + url, { method, headers, body, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/i.test(c) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    const token = /name="csrf" value="([^"]+)"/.exec(text);
    if (token) this.csrf = token[1];
    return { status: res.status, headers: res.headers, text, location: res.headers.get("location") };
  }

  get(url: string, headers?: Record<string, string>): Promise<Answer> {
    return this.request("GET", url, { headers });
  }

  /** Posts a form with the CSRF token of the last page (unless the form gives its own `csrf`). */
  post(url: string, form: Record<string, string | string[]> = {}): Promise<Answer> {
    return this.request("POST", url, { form: this.csrf === undefined || "csrf" in form ? form : { csrf: this.csrf, ...form } });
  }

  async login(username: string, password: string): Promise<Answer> {
    await this.get("/login");
    return this.post("/login", { username, password, next: "/" });
  }
}

/** A JSON API call; `token` is an API token (or none). */
export async function api(base: string, method: string, url: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(base + url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
}

/** An agent's call: the backend's name and token in the headers. */
export function agent(base: string, backend: string, token: string) {
  return async (url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; ms: number }> => {
    const started = Date.now();
    const res = await fetch(base + url, { method: "POST", headers: { authorization: `Bearer ${token}`, "enclave-backend": backend, "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>), ms: Date.now() - started };
  };
}
