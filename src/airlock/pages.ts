// Airlock's pages, rendered on the server and usable without JavaScript:
// the workspaces a person may see and their level 4 files, a file with its
// job's log and code, the release request (groups, files, votes, comments,
// the moves its state allows, its timeline), and the viewer of each file.
//
// Pages decide nothing. Which buttons appear comes from the service's
// RequestView (`may`); every form posts to an operation of the Airlock
// service, which judges it again and audits it, and answers with a redirect
// (so reloading never posts twice) to a page whose notice is a fixed text
// chosen by a key. Refusals are thrown by the service and turned into one
// error page by the server (server.ts).

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as nodePath from "node:path";
import type { AuditLog } from "../audit/index.js";
import { type Ctx, type HtmlValue, CSRF_FIELD, HttpError, PRE_SESSION_COOKIE, type Router, STATUS_TEXT, SafeHtml, html, path } from "../jobserver/http.js";
import { type Principal, can } from "../jobserver/permissions.js";
import { CodeReader } from "./code.js";
import { NotFound, RuleViolation } from "./errors.js";
import { type AirlockPaths, checkRelativePath, readObject, readWorkspaceManifest } from "./files.js";
import { type AccessProject, type JobServerApi, JobServerError, type WorkspaceCache, projectRef } from "./jobserver-client.js";
import { type FileKind, type ReleaseRequest, type Visibility, type VoteValue, VOTES } from "./model.js";
import { userCanCreate, userCanViewWorkspace } from "./rules.js";
import type { Airlock, WorkspaceFile, WorkspaceFileStatus } from "./service.js";
import type { AirlockSession, Sessions } from "./sessions.js";
import type { AirlockEvent } from "./store.js";
import type { Uploader } from "./uploader.js";
import { linker, renderDiff, renderFile, renderLog, renderText, rawHeaders } from "./viewer.js";
import type { FileView, RequestView } from "./view.js";
import { type AuditEvent, type RequestStatus, STATUS_OWNER, isBlinded } from "./workflow.js";

export interface AirlockApp {
  airlock: Airlock;
  audit: AuditLog;
  api: JobServerApi;
  workspaces: WorkspaceCache;
  sessions: Sessions;
  uploader: Uploader | undefined;
  code: CodeReader;
  paths: AirlockPaths;
  backend: string;
  clock: () => Date;
  secureCookies: boolean;
}

export const SESSION_COOKIE = "airlock_session";

// The session of the request being answered, set by the server's middleware.
const sessions = new WeakMap<Ctx, { token: string; session: AirlockSession }>();
export const setSession = (ctx: Ctx, token: string, session: AirlockSession): void => void sessions.set(ctx, { token, session });
const sessionOf = (ctx: Ctx) => sessions.get(ctx);

// ---------------------------------------------------------------------------
// THE STYLESHEET

const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --link: #0b57d0; --focus: #b45309; --fail: #fff1e5; --fail-ink: #9a3412; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
a { color: var(--link); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 3; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
header nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header form { display: inline; }
.brand { font-weight: 700; text-decoration: none; color: var(--ink); }
main { padding: 1rem 1.5rem 3rem; max-width: 90rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; } h3 { font-size: 1.1rem; margin-top: 1.5rem; } h4 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .3rem .6rem; border-bottom: 1px solid var(--line); }
thead th { border-bottom: 2px solid var(--ink); background: #fff; }
tbody th { font-weight: normal; }
.table-wrap { overflow: auto; max-width: 100%; }
.table-wrap.sticky { max-height: 70vh; }
.table-wrap.sticky thead th { position: sticky; top: 0; z-index: 1; }
table.data td { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.fail, th.fail, tr.fail-row > th { background: var(--fail); color: var(--fail-ink); font-weight: 600; }
.flag { margin-right: .2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; overflow-wrap: anywhere; }
pre.file-text { background: #f6f8fa; border: 1px solid var(--line); padding: .75rem; max-height: 70vh; overflow: auto; white-space: pre-wrap; }
form.stack > div, fieldset > div { margin: .4rem 0; }
form.inline { display: inline-flex; gap: .3rem; align-items: center; margin: 0 .3rem .3rem 0; }
fieldset { border: 1px solid var(--line); margin: .5rem 0; }
label { font-weight: 600; margin-right: .4rem; }
input[type=checkbox] + label, input[type=radio] + label { font-weight: normal; }
input, select, button, textarea { font: inherit; padding: .25rem .4rem; }
textarea { width: min(100%, 48rem); }
button { cursor: pointer; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; }
.notice { border-left: 4px solid #1a7f37; padding: .5rem 1rem; background: #f0fff4; }
.problems, .warning { border-left: 4px solid #cf222e; padding: .5rem 1rem; background: #fff5f5; }
.muted { color: var(--muted); }
.status { white-space: nowrap; font-weight: 600; }
.verdict-pass { color: #1a7f37; } .verdict-fail, .verdict-error { color: #cf222e; } .verdict-review { color: #9a6700; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.2rem; }
ul.tree summary { cursor: pointer; font-weight: 600; }
.comment { border: 1px solid var(--line); padding: .5rem .75rem; margin: .5rem 0; }
.comment p.text { white-space: pre-wrap; margin: .25rem 0; }
ins { background: #dafbe1; text-decoration: underline; } del { background: #ffebe9; text-decoration: line-through; }
pre.diff ins, pre.diff del { display: block; }
tr.diff-added > th, tr.diff-removed > th, tr.diff-changed > th { font-weight: 600; }
img.figure { max-width: 100%; border: 1px solid var(--line); }
.side-by-side { display: flex; flex-wrap: wrap; gap: 1rem; }
iframe.html-frame { width: 100%; height: 70vh; border: 1px solid var(--line); }
ol.timeline li { margin: .25rem 0; }
.ansi-bold { font-weight: 700; }
.ansi-30, .ansi-90 { color: #57606a; } .ansi-31, .ansi-91 { color: #b91c1c; } .ansi-32, .ansi-92 { color: #15803d; } .ansi-33, .ansi-93 { color: #92400e; }
.ansi-34, .ansi-94 { color: #1d4ed8; } .ansi-35, .ansi-95 { color: #86198f; } .ansi-36, .ansi-96 { color: #0e7490; } .ansi-37, .ansi-97 { color: #374151; }
`;

const STYLE_PATH = `/static/airlock-${createHash("sha256").update(STYLE).digest("hex").slice(0, 12)}.css`;

// ---------------------------------------------------------------------------
// PIECES

const NOTICES: Readonly<Record<string, string>> = {
  "logged-out": "You have logged out.",
  added: "The file was added to your release request.",
  updated: "The request's copy of the file was replaced by the workspace's current file; its reviews were reset.",
  changed: "The file's group or kind was changed; its reviews were reset.",
  withdrawn: "The file was withdrawn from the request.",
  removed: "The file was removed from the request.",
  saved: "The group's context and controls were saved.",
  submitted: "The request was submitted for review.",
  "request-withdrawn": "The request was withdrawn.",
  voted: "Your vote was recorded. It can change until you submit your review.",
  reviewed: "Your review was submitted.",
  commented: "Your comment was added.",
  deleted: "Your comment was deleted.",
  public: "Your comment is now public.",
  returned: "The request was returned to its author.",
  approved: "The request was approved: its files are being uploaded to the job server.",
  rejected: "The request was rejected.",
  retry: "The upload will be tried again.",
};

const STATUS_WORDS: Readonly<Record<RequestStatus, string>> = {
  pending: "pending (not yet submitted)",
  submitted: "submitted",
  partially_reviewed: "partially reviewed (one review in)",
  reviewed: "reviewed (both reviews in)",
  returned: "returned to the author",
  approved: "approved, uploading",
  released: "released",
  rejected: "rejected",
  withdrawn: "withdrawn",
};
const STATUS_GLYPH: Readonly<Record<RequestStatus, string>> = {
  pending: "○",
  submitted: "◔",
  partially_reviewed: "◑",
  reviewed: "◕",
  returned: "↩",
  approved: "✓",
  released: "✓✓",
  rejected: "✗",
  withdrawn: "⊘",
};

/** The status in words; the glyph is decoration, never the only sign. */
function statusOf(s: RequestStatus): SafeHtml {
  return html`<span class="status"><span aria-hidden="true">${STATUS_GLYPH[s]}</span> ${STATUS_WORDS[s]}</span>`;
}

const FILE_STATUS_WORDS: Readonly<Record<WorkspaceFileStatus, string>> = {
  released: "released",
  under_review: "in your request",
  updated: "updated since added to your request",
  withdrawn: "withdrawn from your request",
  unreleased: "not requested",
};
const FILE_STATUS_GLYPH: Readonly<Record<WorkspaceFileStatus, string>> = { released: "✓", under_review: "◑", updated: "↻", withdrawn: "⊘", unreleased: "·" };

function fileStatus(s: WorkspaceFileStatus): SafeHtml {
  return html`<span class="status"><span aria-hidden="true">${FILE_STATUS_GLYPH[s]}</span> ${FILE_STATUS_WORDS[s]}</span>`;
}

const VOTE_WORDS: Readonly<Record<VoteValue, string>> = { approved: "approve", changes_requested: "request changes", undecided: "undecided" };
const DECISION_WORDS = { incomplete: "incomplete (fewer than two reviews)", approved: "approved", conflicted: "conflicted (votes differ)", changes_requested: "changes requested" } as const;

const EVENT_WORDS: Readonly<Record<AuditEvent, string>> = {
  "airlock.workspace_file.view": "viewed the workspace file",
  "airlock.workspace_file.download": "downloaded the workspace file",
  "airlock.request_file.view": "viewed",
  "airlock.request_file.download": "downloaded",
  "airlock.request.create": "created the request",
  "airlock.request.submit": "submitted the request",
  "airlock.request.resubmit": "resubmitted the request",
  "airlock.request.withdraw": "withdrew the request",
  "airlock.request.review": "submitted a review",
  "airlock.request.partially_reviewed": "(the request is partially reviewed)",
  "airlock.request.reviewed": "(the request is reviewed)",
  "airlock.request.approve": "approved the request",
  "airlock.request.reject": "rejected the request",
  "airlock.request.return": "returned the request",
  "airlock.request.early_return": "returned the request before both reviews were in",
  "airlock.request.release": "(the request was released)",
  "airlock.group.edit": "edited a group's context or controls",
  "airlock.comment.add": "commented",
  "airlock.comment.delete": "deleted a comment",
  "airlock.comment.make_public": "made a comment public",
  "airlock.file.add": "added",
  "airlock.file.update": "updated",
  "airlock.file.change": "moved or changed the kind of",
  "airlock.file.withdraw": "withdrew",
  "airlock.file.remove": "removed",
  "airlock.file.approve": "voted to approve",
  "airlock.file.request_changes": "voted to request changes to",
  "airlock.file.review_reset": "reset the votes on",
  "airlock.file.upload": "uploaded",
  "airlock.file.release": "released",
};

function time(iso: string | Date | null): SafeHtml {
  if (iso === null) return html`<span class="muted">not yet</span>`;
  const s = typeof iso === "string" ? iso : iso.toISOString();
  return html`<time datetime="${s}">${s.replace("T", " ").replace(/\.\d+Z$|Z$/, "")} UTC</time>`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function csrfField(ctx: Ctx): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrfToken()}">`;
}

const hidden = (fields: Record<string, string>): SafeHtml => html`${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}`;

/** A form with one button. */
function button(ctx: Ctx, action: string, label: string, fields: Record<string, string> = {}): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">${csrfField(ctx)}${hidden(fields)}<button type="submit">${label}</button></form>`;
}

function details(rows: readonly [string, HtmlValue][]): SafeHtml {
  return html`<dl>${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function layout(ctx: Ctx, title: string, body: SafeHtml): SafeHtml {
  const s = sessionOf(ctx)?.session;
  const notice = NOTICES[ctx.query.get("done") ?? ""];
  const nav: SafeHtml[] = s ? [html`<li><a href="/">Workspaces and requests</a></li>`] : [];
  if (s && can(s.principal, "release.upload")) nav.push(html`<li><a href="/reviews">Output checking</a></li>`);
  const who = s
    ? html`<span>Logged in as <strong>${s.username}</strong></span> <form method="post" action="/logout">${csrfField(ctx)}<button type="submit">Log out</button></form>`
    : html`<a href="/login">Log in</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Enclave Airlock</title>
<link rel="stylesheet" href="${STYLE_PATH}">
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header>
<a class="brand" href="/">Enclave Airlock</a>
${nav.length > 0 ? html`<nav aria-label="Main"><ul>${nav}</ul></nav>` : ""}
<div>${who}</div>
</header>
<main id="main">
${notice ? html`<p class="notice" role="status">${notice}</p>` : ""}
${body}
</main>
</body>
</html>`;
}

function render(ctx: Ctx, title: string, body: SafeHtml, status = 200): void {
  ctx.html(layout(ctx, title, body), status);
}

export function errorPage(ctx: Ctx, status: number, message: string): SafeHtml {
  const title = STATUS_TEXT[status] ?? (status === 503 ? "Unavailable" : `Error ${status}`);
  const login = status === 401 ? html`<p><a href="/login">Log in</a></p>` : "";
  return layout(ctx, title, html`<h1>${title}</h1><p>${message}</p>${login}<p><a href="/">Back to the start</a></p>`);
}

// ---------------------------------------------------------------------------
// WHO IS ASKING

async function principal(ctx: Ctx): Promise<Principal> {
  return ctx.requirePrincipal();
}

function session(ctx: Ctx): AirlockSession {
  const s = sessionOf(ctx);
  if (!s) throw new HttpError(401, "log in first");
  return s.session;
}

const requestId = (ctx: Ctx): number => {
  const raw = ctx.params.id ?? "";
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new HttpError(404, `there is no request ${JSON.stringify(raw)}: request numbers are whole numbers`);
  return Number(raw);
};

function queryPath(ctx: Ctx, name = "path"): string {
  const p = ctx.query.get(name);
  if (p === null || p === "") throw new HttpError(400, `${ctx.path} needs the file's path as ?${name}=...`);
  return checkRelativePath(p);
}

async function field(ctx: Ctx, name: string, required = true): Promise<string> {
  const v = (await ctx.form()).get(name);
  if (v === null || (required && v === "")) throw new HttpError(400, `the form posted to ${ctx.path} lacks the field ${JSON.stringify(name)}`);
  return v;
}

/** The workspace as the job server describes it now; 404 when it has none by that name. */
async function workspaceInfo(app: AirlockApp, name: string) {
  const info = await app.workspaces.lookup(name);
  if (!info) throw new NotFound(`there is no workspace named ${JSON.stringify(name)}`);
  return info;
}

const requestPath = (id: number): string => path`/requests/${id}`;
const requestFilePath = (id: number, p: string): string => `${path`/requests/${id}/file`}?path=${encodeURIComponent(p)}`;
const workspacePath = (ws: string): string => path`/workspaces/${ws}`;
const workspaceFilePath = (ws: string, p: string): string => `${path`/workspaces/${ws}/file`}?path=${encodeURIComponent(p)}`;
const logPath = (ws: string, action: string, job: string): string => `${path`/workspaces/${ws}/log`}?action=${encodeURIComponent(action)}&job=${encodeURIComponent(job)}`;
const codePath = (ws: string, commit: string, p?: string): string => `${path`/workspaces/${ws}/code`}?commit=${encodeURIComponent(commit)}${p ? `&path=${encodeURIComponent(p)}` : ""}`;

// ---------------------------------------------------------------------------
// LOGGING IN

function safeNext(next: string | null): string {
  return next !== null && /^\/(?![/\\])[^\s]*$/.test(next) ? next : "/";
}

function loginPage(ctx: Ctx, problem?: string, username = ""): SafeHtml {
  const next = safeNext(ctx.query.get("next"));
  return html`<h1>Log in to Airlock</h1>
<p>Use your job server account. Airlock asks the job server who you are and what you may see.</p>
${problem ? html`<p class="problems" role="alert">${problem}</p>` : ""}
<form method="post" action="${`/login?next=${encodeURIComponent(next)}`}" class="stack">
${csrfField(ctx)}
<div><label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="${username}"></div>
<div><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
<div><button type="submit">Log in</button></div>
</form>`;
}

async function login(app: AirlockApp, ctx: Ctx): Promise<void> {
  const f = await ctx.form();
  const username = (f.get("username") ?? "").trim();
  const password = f.get("password") ?? "";
  if (username === "" || password === "") return render(ctx, "Log in", loginPage(ctx, "Give your username and password.", username), 400);
  let answer;
  try {
    answer = await app.api.login(username, password, ctx.req.socket.remoteAddress);
  } catch (e) {
    if (!(e instanceof JobServerError)) throw e;
    if (e.status === 401) return render(ctx, "Log in", loginPage(ctx, "The username or password is wrong.", username), 401);
    if (e.status === 429) return render(ctx, "Log in", loginPage(ctx, "Too many failed logins for this account: wait 15 minutes, then try again.", username), 429);
    throw new HttpError(503, "Airlock cannot reach the job server to check your login; try again in a minute");
  }
  const { token } = app.sessions.create(answer.user, answer.access);
  ctx.setCookie(SESSION_COOKIE, token, { maxAge: Math.floor(app.sessions.ttlMs / 1000) });
  ctx.clearCookie(PRE_SESSION_COOKIE);
  await app.audit.append({ actor: answer.user.username, action: "airlock.login", subject: `backend:${app.backend}`, details: {} });
  ctx.redirect(safeNext(ctx.query.get("next")));
}

async function logout(app: AirlockApp, ctx: Ctx): Promise<void> {
  const s = sessionOf(ctx);
  if (s) {
    app.sessions.end(s.token);
    await app.audit.append({ actor: s.session.username, action: "airlock.logout", subject: `backend:${app.backend}`, details: {} });
  }
  ctx.clearCookie(SESSION_COOKIE);
  ctx.redirect("/login?done=logged-out");
}

// ---------------------------------------------------------------------------
// THE START: WORKSPACES AND ONE'S REQUESTS

function requestsTable(requests: readonly ReleaseRequest[], caption: string, extra?: (r: ReleaseRequest) => HtmlValue, extraHead?: string): SafeHtml {
  if (requests.length === 0) return html`<p>None.</p>`;
  return html`<table><caption>${caption}</caption>
<thead><tr><th scope="col">Request</th><th scope="col">Workspace</th><th scope="col">Author</th><th scope="col">Status</th><th scope="col">Last change</th>${extraHead ? html`<th scope="col">${extraHead}</th>` : ""}</tr></thead>
<tbody>${requests.map((r) => html`<tr><th scope="row"><a href="${requestPath(r.id)}">Request ${r.id}</a></th><td>${r.workspace}</td><td>${r.author}</td><td>${statusOf(r.status)}</td><td>${time(r.updated)}</td>${extra ? html`<td>${extra(r)}</td>` : ""}</tr>`)}</tbody></table>`;
}

async function home(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const s = session(ctx);
  const projects = new Map<number, AccessProject>(s.access.projects.map((p) => [p.number, p]));
  const visible = s.access.workspaces.filter((w) => {
    const p = projects.get(w.project);
    return p !== undefined && can(me, "output.view_unreleased", projectRef(p));
  });
  const mine = (await app.airlock.listRequests(me, { author: me.username })).reverse();
  const body = html`<h1>Airlock</h1>
<p>Look at your workspaces' level 4 outputs, and ask for files to be released. Two output checkers review every request before anything leaves the backend.</p>
<h2>Workspaces you can see</h2>
${visible.length === 0
    ? html`<p>None: level 4 outputs are for the developers of an ongoing project, and for output checkers.</p>`
    : html`<table><caption>Workspaces whose level 4 outputs you may see</caption>
<thead><tr><th scope="col">Workspace</th><th scope="col">Project</th><th scope="col">Project status</th><th scope="col">Archived</th></tr></thead>
<tbody>${visible.map((w) => {
        const p = projects.get(w.project)!;
        return html`<tr><th scope="row"><a href="${workspacePath(w.name)}">${w.name}</a></th><td>${p.number} ${p.name}</td><td>${p.status}</td><td>${w.archived ? "yes: requests can be viewed, not changed" : "no"}</td></tr>`;
      })}</tbody></table>`}
<h2>Your release requests</h2>
${requestsTable(mine, "Your release requests, newest first")}`;
  render(ctx, "Airlock", body);
}

async function reviews(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  if (!can(me, "release.upload")) throw new HttpError(403, `${me.username} is not an output checker: this page lists requests for output checkers`);
  const all = (await app.airlock.listRequests(me)).filter((r) => r.author !== me.username && r.turn > 0).reverse();
  const toReview = all.filter((r) => STATUS_OWNER[r.status] === "reviewer");
  const mayReview = new Map<number, boolean>();
  for (const r of toReview) mayReview.set(r.id, (await app.airlock.getRequest(me, r.id)).may.review);
  const others = all.filter((r) => STATUS_OWNER[r.status] !== "reviewer").slice(0, 100);
  const held = app.uploader?.held() ?? [];
  const body = html`<h1>Output checking</h1>
<h2>Requests with the output checkers</h2>
${requestsTable(toReview, "Submitted, partially reviewed or reviewed requests, newest first", (r) => (mayReview.get(r.id) ? "needed from you" : "not needed from you"), "Your review")}
${held.length > 0
    ? html`<h2>Uploads held</h2><p class="warning" role="alert">These approved requests are not being uploaded until an output checker looks at why and retries them.</p>
<ul>${held.map((h) => html`<li><a href="${requestPath(h.request)}">Request ${h.request}</a>: ${h.reason}</li>`)}</ul>`
    : ""}
<h2>Other requests</h2>
${requestsTable(others, "Returned, approved, released, rejected or withdrawn requests, newest first (at most 100)")}`;
  render(ctx, "Output checking", body);
}

// ---------------------------------------------------------------------------
// A WORKSPACE: ITS LEVEL 4 FILES AS A TREE

interface Tree {
  dirs: Map<string, Tree>;
  files: WorkspaceFile[];
}

function tree(files: readonly WorkspaceFile[]): Tree {
  const root: Tree = { dirs: new Map(), files: [] };
  for (const f of files) {
    const parts = f.path.split("/");
    let node = root;
    for (const dir of parts.slice(0, -1)) {
      if (!node.dirs.has(dir)) node.dirs.set(dir, { dirs: new Map(), files: [] });
      node = node.dirs.get(dir)!;
    }
    node.files.push(f);
  }
  const sort = (t: Tree): void => {
    t.files.sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const sub of t.dirs.values()) sort(sub);
  };
  sort(root);
  return root;
}

function treeHtml(ws: string, node: Tree): SafeHtml {
  const dirs = [...node.dirs.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  return html`${dirs.map(([name, sub]) => html`<li><details open><summary>${name}/</summary><ul>${treeHtml(ws, sub)}</ul></details></li>`)}${node.files.map(
    (f) => html`<li><a href="${workspaceFilePath(ws, f.path)}">${f.path.slice(f.path.lastIndexOf("/") + 1)}</a> — ${fileStatus(f.status)}, ${bytes(f.size)}, written by the action <code>${f.action}</code></li>`,
  )}`;
}

async function workspacePage(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const name = ctx.params.ws!;
  const files = await app.airlock.workspaceFiles(me, name);
  const ws = await workspaceInfo(app, name);
  const active = userCanCreate(me, ws) ? await app.airlock.activeRequest(me, name) : undefined;
  const blocked = ws.archived ? "This workspace is archived: its requests can be viewed, and no request can be created or changed." : ws.project.status !== "ongoing" ? `Project ${ws.project.number} is ${ws.project.status}: its requests can be viewed, and no request can be created or changed.` : "";
  const body = html`<h1>Workspace ${name}</h1>
${details([
    ["Project", `${ws.project.number} (${ws.project.status})`],
    ["Archived", ws.archived ? "yes" : "no"],
    ...(userCanCreate(me, ws)
      ? ([["Your active request", active ? html`<a href="${requestPath(active.request.id)}">Request ${active.request.id}</a>, ${statusOf(active.request.status)}` : html`<span class="muted">none: adding a file starts one</span>`]] as [string, HtmlValue][])
      : []),
  ])}
${blocked ? html`<p class="warning">${blocked}</p>` : ""}
<h2>Level 4 files</h2>
${files.length === 0 ? html`<p>No job has written a level 4 file in this workspace yet.</p>` : html`<ul class="tree">${treeHtml(name, tree(files))}</ul>`}`;
  render(ctx, `Workspace ${name}`, body);
}

function groupInput(groups: readonly string[], value = ""): SafeHtml {
  return html`<div><label for="group">Group</label><input id="group" name="group" list="group-names" required maxlength="100" value="${value}" aria-describedby="group-help"><datalist id="group-names">${groups.map((g) => html`<option value="${g}"></option>`)}</datalist>
<span id="group-help" class="muted">Files are reviewed in named groups, each with its context and controls.</span></div>`;
}

function kindInput(value: FileKind = "output"): SafeHtml {
  return html`<fieldset><legend>Kind of file</legend>
<div><input type="radio" id="kind-output" name="kind" value="output"${value === "output" ? html` checked` : ""}><label for="kind-output">Output: to be reviewed and released</label></div>
<div><input type="radio" id="kind-supporting" name="kind" value="supporting"${value === "supporting" ? html` checked` : ""}><label for="kind-supporting">Supporting: context for the checkers, never released</label></div>
</fieldset>`;
}

async function workspaceFilePage(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const name = ctx.params.ws!;
  const p = queryPath(ctx);
  const files = await app.airlock.workspaceFiles(me, name);
  const file = files.find((f) => f.path === p);
  if (!file) throw new NotFound(`${JSON.stringify(p)} is not a level 4 file of workspace ${name}`);
  const opened = await app.airlock.openWorkspaceFile(me, name, p, "view");
  const content = fs.readFileSync(opened.file);
  const changedOnDisk = createHash("sha256").update(content).digest("hex") !== opened.sha256;
  const ws = await workspaceInfo(app, name);
  let release: SafeHtml | string = "";
  if (userCanCreate(me, ws)) {
    const active = await app.airlock.activeRequest(me, name);
    const groups = active?.groups.map((g) => g.name) ?? [];
    const editable = active === undefined || active.may.edit;
    if (!editable) release = html`<h2>Release</h2><p>Your request ${active!.request.id} is ${STATUS_WORDS[active!.request.status]}: files can be added once it is back with you.</p>`;
    else if (file.status === "unreleased" || file.status === "withdrawn") {
      release = html`<h2>Release</h2>
<form method="post" action="${path`/workspaces/${name}/add`}" class="stack">${csrfField(ctx)}${hidden({ path: p })}
${groupInput(groups, groups[0] ?? "")}${kindInput()}
<div><button type="submit">Add to ${active ? `request ${active.request.id}` : "a new release request"}</button></div></form>`;
    } else if (file.status === "updated" && active) {
      release = html`<h2>Release</h2><p>The file has changed since it was added to request ${active.request.id}. Updating the request's copy resets every review of it.</p>
${button(ctx, path`/requests/${active.request.id}/file/update`, "Update the request's copy", { path: p })}`;
    } else if (file.status === "under_review" && active) {
      release = html`<h2>Release</h2><p>This file is in <a href="${requestPath(active.request.id)}">request ${active.request.id}</a>.</p>`;
    }
  }
  const raw = `${path`/workspaces/${name}/raw`}?path=${encodeURIComponent(p)}`;
  const body = html`<h1>${p}</h1>
<p><a href="${workspacePath(name)}">Back to workspace ${name}</a></p>
${changedOnDisk ? html`<p class="warning" role="alert">This file no longer matches what its job wrote (its sha256 differs from the manifest's): it cannot be released; run the action again.</p>` : ""}
<h2>About this file</h2>
${details([
    ["Status", fileStatus(file.status)],
    ["Size", bytes(file.size)],
    ["sha256", html`<code>${file.sha256}</code>`],
    ["Written by", html`the action <code>${file.action}</code>, job <code>${file.jobId}</code>`],
    ["The job's log", html`<a href="${logPath(name, file.action, file.jobId)}">metadata/${file.action}.log</a>`],
    ["Code", file.commit ? html`<a href="${codePath(name, file.commit)}">the repository at <code>${file.commit.slice(0, 12)}</code></a>` : html`<span class="muted">not from a commit</span>`],
  ])}
${release}
${renderFile(p, content, { query: viewerQuery(ctx), link: linker(ctx.path, viewerQuery(ctx)), check: null, raw })}`;
  render(ctx, p, body);
}

/** The query string the viewer keeps in its links: all but the notice of the last form. */
function viewerQuery(ctx: Ctx): URLSearchParams {
  const q = new URLSearchParams(ctx.query);
  q.delete("done");
  return q;
}

async function workspaceRaw(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const p = queryPath(ctx);
  const opened = await app.airlock.openWorkspaceFile(me, ctx.params.ws!, p, "view");
  const { "Content-Type": type, ...headers } = rawHeaders(p, "inline");
  ctx.text(fs.readFileSync(opened.file), type!, headers);
}

async function addFile(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const kind = (await ctx.form()).get("kind") ?? "output";
  if (kind !== "output" && kind !== "supporting") throw new HttpError(400, `${JSON.stringify(kind)} is not a kind of file to add: output or supporting`);
  const view = await app.airlock.addFile(me, { workspace: ctx.params.ws!, path: checkRelativePath(await field(ctx, "path")), group: (await field(ctx, "group")).trim(), kind });
  ctx.redirect(`${requestPath(view.request.id)}?done=added`);
}

// ---------------------------------------------------------------------------
// THE JOB'S LOG AND CODE

// Workspace names become folder names here; the job server allows only these.
const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

async function checkWorkspaceView(app: AirlockApp, me: Principal, name: string) {
  if (!WORKSPACE_NAME.test(name)) throw new NotFound(`there is no workspace named ${JSON.stringify(name)}`);
  const ws = await workspaceInfo(app, name);
  if (!userCanViewWorkspace(me, ws)) throw new HttpError(403, `${me.username} cannot see workspace ${name}: that needs access to project ${ws.project.number}'s level 4 outputs, or the output checker role`);
  return ws;
}

async function logPage(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const name = ctx.params.ws!;
  await checkWorkspaceView(app, me, name);
  const action = ctx.query.get("action") ?? "";
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(action)) throw new HttpError(400, `${JSON.stringify(action)} is not an action's name`);
  const job = ctx.query.get("job") ?? "";
  const file = nodePath.join(app.paths.backendDir, "workspaces", name, "metadata", `${action}.log`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new NotFound(`workspace ${name} has no log of the action ${action}`);
  }
  await app.audit.append({ actor: me.username, action: "airlock.log.view", subject: `workspace:${name}`, details: { action, backend: app.backend } });
  const m = /^job_id:\s+(\S+)/m.exec(text);
  const other = job !== "" && m !== null && m[1] !== job;
  const body = html`<h1>Log of the action ${action}</h1>
<p><a href="${workspacePath(name)}">Back to workspace ${name}</a></p>
${other ? html`<p class="warning" role="alert">This is the log of job <code>${m![1]}</code>, the action's latest run; the file you came from was written by job <code>${job}</code>, an earlier run, whose log was replaced.</p>` : ""}
${renderLog(text)}`;
  render(ctx, `Log of ${action}`, body);
}

async function codePage(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const name = ctx.params.ws!;
  await checkWorkspaceView(app, me, name);
  const commit = ctx.query.get("commit") ?? "";
  const entries = Object.values(readWorkspaceManifest(app.paths, name).files);
  const repo = entries.find((e) => e.commit === commit && e.repo)?.repo ?? (await app.workspaces.get(name))?.workspace.repo ?? "";
  if (repo === "") throw new NotFound(`workspace ${name} names no repository`);
  const p = ctx.query.get("path");
  await app.audit.append({ actor: me.username, action: "airlock.code.view", subject: `workspace:${name}`, details: { commit, path: p, backend: app.backend } });
  if (p === null || p === "") {
    const files = await app.code.files(repo, commit);
    const body = html`<h1>Code at commit <code>${commit.slice(0, 12)}</code></h1>
<p><a href="${workspacePath(name)}">Back to workspace ${name}</a>. Repository <code>${repo}</code>, commit <code>${commit}</code>.</p>
<h2>Files</h2>
<ul>${files.map((f) => html`<li><a href="${codePath(name, commit, f)}">${f}</a></li>`)}</ul>`;
    return render(ctx, `Code at ${commit.slice(0, 12)}`, body);
  }
  const content = await app.code.file(repo, commit, p);
  const body = html`<h1>${p}</h1>
<p>At commit <code>${commit}</code>. <a href="${codePath(name, commit)}">All files of the commit</a>.</p>
<h2>Content</h2>
${content.includes(0) ? html`<p>This is a binary file.</p>` : renderText(content)}`;
  render(ctx, p, body);
}

// ---------------------------------------------------------------------------
// A REQUEST

function votesOf(f: FileView): SafeHtml {
  if (f.kind !== "output") return html`<span class="muted">not voted on</span>`;
  if (f.votes.length === 0) return html`<span class="muted">none you can see</span>`;
  return html`<ul>${f.votes.map((v) => html`<li>${v.reviewer}: ${VOTE_WORDS[v.vote]}${v.sha256 !== f.sha256 ? " (on an earlier version)" : ""}</li>`)}</ul>`;
}

function checkOf(f: FileView): SafeHtml {
  if (!f.check) return html`<span class="muted">not checked</span>`;
  const word = { pass: "passed", fail: "failed", review: "needs review", error: "could not run" }[f.check.status];
  return html`<span class="verdict-${f.check.status}"><span aria-hidden="true">${f.check.status === "pass" ? "✓" : f.check.status === "fail" ? "✗" : "!"}</span> ${word}${f.check.failures.length > 0 ? ` (${f.check.failures.length})` : ""}</span>`;
}

function voteForm(ctx: Ctx, view: RequestView, f: FileView, me: string, back?: string): SafeHtml {
  const mine = f.votes.find((v) => v.reviewer === me && v.sha256 === f.sha256)?.vote ?? "undecided";
  const id = `vote-${f.id}`;
  return html`<form method="post" action="${path`/requests/${view.request.id}/vote`}" class="inline">${csrfField(ctx)}${hidden({ path: f.path, ...(back ? { back } : {}) })}
<label for="${id}">Your vote on ${f.path}</label><select id="${id}" name="vote">${VOTES.map((v) => html`<option value="${v}"${v === mine ? html` selected` : ""}>${VOTE_WORDS[v]}</option>`)}</select><button type="submit">Save vote</button></form>`;
}

function authorFileControls(ctx: Ctx, view: RequestView, f: FileView): SafeHtml {
  const id = view.request.id;
  if (!view.may.edit || f.kind === "withdrawn") return html``;
  const groups = view.groups.map((g) => g.name);
  const gid = `move-${f.id}`;
  const kid = `kind-${f.id}`;
  return html`<form method="post" action="${path`/requests/${id}/file/change`}" class="inline">${csrfField(ctx)}${hidden({ path: f.path })}
<label for="${gid}">Group</label><input id="${gid}" name="group" value="${f.group}" list="groups-${f.id}" size="10"><datalist id="groups-${f.id}">${groups.map((g) => html`<option value="${g}"></option>`)}</datalist>
<label for="${kid}">Kind</label><select id="${kid}" name="kind"><option value="output"${f.kind === "output" ? html` selected` : ""}>output</option><option value="supporting"${f.kind === "supporting" ? html` selected` : ""}>supporting</option></select>
<button type="submit">Change</button></form>
${button(ctx, path`/requests/${id}/file/update`, "Update from the workspace", { path: f.path })}
${view.request.status === "pending" ? button(ctx, path`/requests/${id}/file/remove`, "Remove", { path: f.path }) : button(ctx, path`/requests/${id}/file/withdraw`, "Withdraw", { path: f.path })}`;
}

function groupSection(ctx: Ctx, view: RequestView, me: string, groupIndex: number): SafeHtml {
  const g = view.groups[groupIndex]!;
  const id = view.request.id;
  const files = view.files.filter((f) => f.group === g.name);
  const gid = `g${groupIndex}`;
  const visibilities = (["public", "private"] as Visibility[]).filter((v) => view.may.comment[v]);
  const text = view.may.edit
    ? html`<form method="post" action="${path`/requests/${id}/group`}" class="stack">${csrfField(ctx)}${hidden({ group: g.name })}
<div><label for="${gid}-context">Context</label><br><textarea id="${gid}-context" name="context" rows="3" aria-describedby="${gid}-context-help">${g.context}</textarea><br><span id="${gid}-context-help" class="muted">What these files are, and how they were made.</span></div>
<div><label for="${gid}-controls">Controls</label><br><textarea id="${gid}-controls" name="controls" rows="3" aria-describedby="${gid}-controls-help">${g.controls}</textarea><br><span id="${gid}-controls-help" class="muted">The disclosure controls applied (suppression, rounding).</span></div>
<div><button type="submit">Save context and controls</button></div></form>`
    : details([
        ["Context", g.context || html`<span class="muted">none given</span>`],
        ["Controls", g.controls || html`<span class="muted">none given</span>`],
      ]);
  return html`<section aria-labelledby="${gid}-heading"><h3 id="${gid}-heading">Group “${g.name}”</h3>
${g.changesRequested ? html`<p class="warning">Changes were requested in this group: the author must answer with a public comment before resubmitting.</p>` : ""}
${text}
${files.length === 0
    ? html`<p>No files.</p>`
    : html`<div class="table-wrap"><table><caption>The files of group “${g.name}”</caption>
<thead><tr><th scope="col">File</th><th scope="col">Kind</th><th scope="col">Automated check</th><th scope="col">Votes</th><th scope="col">Decision</th><th scope="col">Actions</th></tr></thead>
<tbody>${files.map(
        (f) =>
          html`<tr><th scope="row"><a href="${requestFilePath(id, f.path)}">${f.path}</a></th><td>${f.kind}</td><td>${checkOf(f)}</td><td>${votesOf(f)}</td><td>${f.decision ? DECISION_WORDS[f.decision] : html`<span class="muted">not shown yet</span>`}</td>
<td>${view.may.review && f.kind === "output" ? voteForm(ctx, view, f, me) : ""}${authorFileControls(ctx, view, f)}</td></tr>`,
      )}</tbody></table></div>`}
<h4 id="${gid}-comments">Comments on “${g.name}”</h4>
${g.comments.length === 0
    ? html`<p class="muted">No comments you can see.</p>`
    : g.comments.map(
        (c) => html`<article class="comment" aria-label="${`Comment by ${c.author}`}"><p><strong>${c.author}</strong>, ${c.visibility === "public" ? "public" : "private (output checkers only)"}, ${time(c.created)}</p><p class="text">${c.text}</p>
${c.author === me && c.turn === view.request.turn && view.may.comment[c.visibility] ? button(ctx, path`/requests/${id}/comment/delete`, "Delete", { comment: String(c.id) }) : ""}
${c.author === me && c.visibility === "private" && view.may.comment.public ? button(ctx, path`/requests/${id}/comment/public`, "Make public", { comment: String(c.id) }) : ""}</article>`,
      )}
${visibilities.length === 0
    ? ""
    : html`<form method="post" action="${path`/requests/${id}/comment`}" class="stack">${csrfField(ctx)}${hidden({ group: g.name })}
<div><label for="${gid}-comment">Your comment on “${g.name}”</label><br><textarea id="${gid}-comment" name="text" rows="3" required></textarea></div>
${visibilities.length === 1
        ? hidden({ visibility: visibilities[0]! })
        : html`<fieldset><legend>Who sees it</legend>${visibilities.map((v) => html`<div><input type="radio" id="${gid}-vis-${v}" name="visibility" value="${v}"${v === "private" ? html` checked` : ""}><label for="${gid}-vis-${v}">${v === "public" ? "Public: the author too" : "Private: output checkers only"}</label></div>`)}</fieldset>`}
<div><button type="submit">Add ${visibilities.length === 1 ? visibilities[0] : ""} comment</button></div></form>`}
</section>`;
}

function whoActs(view: RequestView): string {
  const s = view.request.status;
  if (STATUS_OWNER[s] === "author") return "The author";
  if (STATUS_OWNER[s] === "reviewer") return "The output checkers";
  return s === "approved" ? "The uploader (automatic)" : "Nobody: the request is closed";
}

function timeline(events: readonly AirlockEvent[]): SafeHtml {
  if (events.length === 0) return html`<p>No events you can see.</p>`;
  return html`<ol class="timeline">${events.map((e) => {
    const d = e.details as Record<string, unknown>;
    const extra = e.type === "airlock.comment.add" && typeof d.group === "string" ? ` on “${d.group}”` : e.type === "airlock.group.edit" && typeof d.group === "string" ? ` (“${d.group}”)` : "";
    return html`<li>${time(e.created)}: <strong>${e.username}</strong> ${EVENT_WORDS[e.type] ?? e.type}${e.path ? html` <code>${e.path}</code>` : ""}${extra}${e.visibility === "private" ? " (private)" : ""}</li>`;
  })}</ol>`;
}

async function requestPage(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const id = requestId(ctx);
  const view = await app.airlock.getRequest(me, id);
  const events = await app.airlock.events(me, id);
  const r = view.request;
  const moves = new Set(view.may.moveTo);
  const held = view.role === "reviewer" ? app.uploader?.heldReason(id) : undefined;
  const author = view.role === "author";
  const submitting = author && moves.has("submitted");
  const body = html`<h1>Release request ${r.id}</h1>
${details([
    ["Status", statusOf(r.status)],
    ["Workspace", html`<a href="${workspacePath(r.workspace)}">${r.workspace}</a> (project ${r.project})`],
    ["Author", r.author],
    ["You are", { author: "its author", reviewer: "an output checker", member: "a member of the project", system: "the system", other: "someone without a role here" }[view.role]],
    ["With", whoActs(view)],
    ["Created", time(r.created)],
    ["Last change", time(r.updated)],
  ])}
${isBlinded(r.status) && view.role === "reviewer" ? html`<p class="notice">Reviews are independent: until both are submitted you see only your own votes and comments.</p>` : ""}
${held ? html`<p class="warning" role="alert">The upload of this request is held: ${held.reason} ${button(ctx, path`/requests/${id}/retry-upload`, "Retry the upload")}</p>` : ""}
${author && view.may.edit ? html`<p>Add files from <a href="${workspacePath(r.workspace)}">the workspace's level 4 files</a>.</p>` : ""}
<h2>Files and groups</h2>
${view.groups.length === 0 ? html`<p>No files yet.</p>` : view.groups.map((_, i) => groupSection(ctx, view, me.username, i))}
${submitting
    ? html`<h2>${r.status === "returned" ? "Resubmit" : "Submit"} for review</h2>
<form method="post" action="${path`/requests/${id}/submit`}" class="stack">${csrfField(ctx)}
<div><input type="checkbox" id="confirm" name="confirm" value="yes" required><label for="confirm">I confirm that these outputs are aggregated, that small numbers are suppressed, and that nothing in them identifies small areas or GP practices.</label></div>
<div><button type="submit">${r.status === "returned" ? "Resubmit" : "Submit"} request ${id}</button></div></form>`
    : ""}
${author && moves.has("withdrawn") ? html`<h2>Withdraw</h2><p>A withdrawn request stays on the record; nothing in it is released.</p>${button(ctx, path`/requests/${id}/withdraw`, `Withdraw request ${id}`)}` : ""}
${view.role === "reviewer" && (view.may.review || moves.size > 0)
    ? html`<h2>Your review</h2>
${view.may.review ? html`<p>Vote on every output file, and comment on each group where you request changes; then submit. Votes cannot change after that.</p>${button(ctx, path`/requests/${id}/review`, "Submit your review")}` : ""}
${moves.has("approved") ? button(ctx, path`/requests/${id}/approve`, "Approve the request") : ""}
${moves.has("returned") ? button(ctx, path`/requests/${id}/return`, isBlinded(r.status) ? "Return to the author early (resets this turn's votes and comments)" : "Return to the author") : ""}
${moves.has("rejected") ? button(ctx, path`/requests/${id}/reject`, "Reject the request") : ""}`
    : ""}
<h2>Timeline</h2>
${timeline(events)}`;
  render(ctx, `Request ${r.id}`, body);
}

async function requestFilePage(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const id = requestId(ctx);
  const p = queryPath(ctx);
  const view = await app.airlock.getRequest(me, id);
  const f = view.files.find((x) => x.path === p);
  if (!f) throw new NotFound(`${JSON.stringify(p)} is not in request ${id}`);
  const opened = await app.airlock.openRequestFile(me, id, p, "view");
  const content = readObject(app.paths, opened.sha256, `${view.request.workspace}/${p} (request ${id})`);
  const before = await app.airlock.reviewedBefore(me, id, p);
  const raw = (extra = "") => `${path`/requests/${id}/raw`}?path=${encodeURIComponent(p)}${extra}`;
  let diff: SafeHtml | string = "";
  if (before) {
    const old = readObject(app.paths, before.sha256, `the reviewed copy of ${p} (request ${id})`);
    diff = html`<section aria-labelledby="diff-heading"><h2 id="diff-heading">Changes since the version reviewed before</h2>
<p>Compared with the copy voted on ${time(before.reviewed)} (sha256 <code>${before.sha256.slice(0, 12)}</code>).</p>
${renderDiff(p, old, content, { before: raw("&version=before"), after: raw() })}</section>`;
  }
  const body = html`<h1>${p}</h1>
<p><a href="${requestPath(id)}">Back to request ${id}</a></p>
<h2>About this file</h2>
${details([
    ["Group", f.group],
    ["Kind", f.kind],
    ["Size", bytes(f.size)],
    ["sha256", html`<code>${f.sha256}</code>`],
    ["Written by", html`the action <code>${f.action}</code>, job <code>${f.jobId}</code>`],
    ["The job's log", html`<a href="${logPath(view.request.workspace, f.action, f.jobId)}">metadata/${f.action}.log</a>`],
    ["Code", f.commit ? html`<a href="${codePath(view.request.workspace, f.commit)}">the repository at <code>${f.commit.slice(0, 12)}</code></a>` : html`<span class="muted">not from a commit</span>`],
    ["Votes", votesOf(f)],
    ["Decision", f.decision ? DECISION_WORDS[f.decision] : html`<span class="muted">not shown yet</span>`],
    ["Download", view.may.download ? html`<a href="${raw("&download=1")}">Download ${p.slice(p.lastIndexOf("/") + 1)}</a>` : html`<span class="muted">only for output checkers who are not the author</span>`],
  ])}
${view.may.review && f.kind === "output" ? html`<h2>Your vote</h2>${voteForm(ctx, view, f, me.username, "file")}` : ""}
${renderFile(p, content, { query: viewerQuery(ctx), link: linker(ctx.path, viewerQuery(ctx)), check: f.check, raw: raw() })}
${diff}`;
  render(ctx, p, body);
}

async function requestRaw(app: AirlockApp, ctx: Ctx): Promise<void> {
  const me = await principal(ctx);
  const id = requestId(ctx);
  const p = queryPath(ctx);
  const download = ctx.query.get("download") === "1";
  let sha256: string;
  if (ctx.query.get("version") === "before") {
    const before = await app.airlock.reviewedBefore(me, id, p);
    if (!before) throw new NotFound(`${JSON.stringify(p)} of request ${id} has no earlier reviewed version`);
    sha256 = before.sha256;
  } else {
    sha256 = (await app.airlock.openRequestFile(me, id, p, download ? "download" : "view")).sha256;
  }
  const content = readObject(app.paths, sha256, `${p} (request ${id})`);
  const { "Content-Type": type, ...headers } = rawHeaders(p, download ? "attachment" : "inline");
  ctx.text(content, type!, headers);
}

// ---------------------------------------------------------------------------
// THE FORMS OF A REQUEST

type Act = (app: AirlockApp, ctx: Ctx, me: Principal, id: number) => Promise<string>;

/** A request's form: runs the operation, then goes back to the request page (or where `back` says) with its notice. */
function act(app: AirlockApp, fn: Act) {
  return async (ctx: Ctx): Promise<void> => {
    const me = await principal(ctx);
    const id = requestId(ctx);
    const done = await fn(app, ctx, me, id);
    const back = (await ctx.form()).get("back");
    const p = (await ctx.form()).get("path");
    ctx.redirect(`${back === "file" && p ? `${requestFilePath(id, p)}&` : `${requestPath(id)}?`}done=${done}`);
  };
}

const ACTIONS: Record<string, Act> = {
  group: async (app, ctx, me, id) => {
    const f = await ctx.form();
    await app.airlock.setGroupText(me, id, await field(ctx, "group"), { context: f.get("context") ?? undefined, controls: f.get("controls") ?? undefined });
    return "saved";
  },
  "file/change": async (app, ctx, me, id) => {
    const kind = (await ctx.form()).get("kind") ?? undefined;
    if (kind !== undefined && kind !== "output" && kind !== "supporting") throw new HttpError(400, `${JSON.stringify(kind)} is not a kind of file: output or supporting`);
    await app.airlock.changeFile(me, id, await field(ctx, "path"), { group: (await field(ctx, "group")).trim(), kind });
    return "changed";
  },
  "file/update": async (app, ctx, me, id) => {
    await app.airlock.updateFile(me, id, await field(ctx, "path"));
    return "updated";
  },
  "file/withdraw": async (app, ctx, me, id) => {
    await app.airlock.withdrawFile(me, id, await field(ctx, "path"));
    return "withdrawn";
  },
  "file/remove": async (app, ctx, me, id) => {
    await app.airlock.removeFile(me, id, await field(ctx, "path"));
    return "removed";
  },
  submit: async (app, ctx, me, id) => {
    if ((await ctx.form()).get("confirm") !== "yes") throw new RuleViolation(`request ${id} was not submitted: tick the confirmation that the outputs are aggregated, small numbers suppressed, and nothing identifies small areas or GP practices`);
    await app.airlock.submit(me, id, { confirm: true });
    return "submitted";
  },
  withdraw: async (app, _ctx, me, id) => {
    await app.airlock.withdraw(me, id);
    return "request-withdrawn";
  },
  vote: async (app, ctx, me, id) => {
    const vote = await field(ctx, "vote");
    if (!(VOTES as readonly string[]).includes(vote)) throw new HttpError(400, `${JSON.stringify(vote)} is not a vote: ${VOTES.join(", ")}`);
    await app.airlock.review(me, id, await field(ctx, "path"), vote as VoteValue);
    return "voted";
  },
  review: async (app, _ctx, me, id) => {
    await app.airlock.submitReview(me, id);
    return "reviewed";
  },
  comment: async (app, ctx, me, id) => {
    const visibility = await field(ctx, "visibility");
    if (visibility !== "public" && visibility !== "private") throw new HttpError(400, `${JSON.stringify(visibility)} is not a visibility: public or private`);
    await app.airlock.comment(me, id, await field(ctx, "group"), await field(ctx, "text"), visibility);
    return "commented";
  },
  "comment/delete": async (app, ctx, me, id) => {
    await app.airlock.deleteComment(me, id, commentId(await field(ctx, "comment")));
    return "deleted";
  },
  "comment/public": async (app, ctx, me, id) => {
    await app.airlock.makeCommentPublic(me, id, commentId(await field(ctx, "comment")));
    return "public";
  },
  return: async (app, _ctx, me, id) => {
    await app.airlock.returnRequest(me, id);
    return "returned";
  },
  approve: async (app, _ctx, me, id) => {
    await app.airlock.approve(me, id);
    app.uploader?.kick();
    return "approved";
  },
  reject: async (app, _ctx, me, id) => {
    await app.airlock.reject(me, id);
    return "rejected";
  },
  "retry-upload": async (app, _ctx, me, id) => {
    const view = await app.airlock.getRequest(me, id);
    if (view.role !== "reviewer") throw new HttpError(403, `${me.username} cannot retry the upload of request ${id}: only output checkers who are not its author can`);
    app.uploader?.retry(id);
    return "retry";
  },
};

function commentId(raw: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new HttpError(400, `${JSON.stringify(raw)} is not a comment number`);
  return Number(raw);
}

// ---------------------------------------------------------------------------
// THE ROUTES

export function registerPages(router: Router, app: AirlockApp): void {
  router.get(STYLE_PATH, async (ctx) => ctx.text(STYLE, "text/css; charset=utf-8", { "Cache-Control": "public, max-age=31536000, immutable" }));
  router.get("/login", async (ctx) => {
    if (sessionOf(ctx)) return ctx.redirect(safeNext(ctx.query.get("next")));
    render(ctx, "Log in", loginPage(ctx));
  });
  router.post("/login", (ctx) => login(app, ctx));
  router.post("/logout", (ctx) => logout(app, ctx));
  router.get("/", (ctx) => home(app, ctx));
  router.get("/reviews", (ctx) => reviews(app, ctx));
  router.get("/workspaces/:ws", (ctx) => workspacePage(app, ctx));
  router.get("/workspaces/:ws/file", (ctx) => workspaceFilePage(app, ctx));
  router.get("/workspaces/:ws/raw", (ctx) => workspaceRaw(app, ctx));
  router.get("/workspaces/:ws/log", (ctx) => logPage(app, ctx));
  router.get("/workspaces/:ws/code", (ctx) => codePage(app, ctx));
  router.post("/workspaces/:ws/add", (ctx) => addFile(app, ctx));
  router.get("/requests/:id", (ctx) => requestPage(app, ctx));
  router.get("/requests/:id/file", (ctx) => requestFilePage(app, ctx));
  router.get("/requests/:id/raw", (ctx) => requestRaw(app, ctx));
  for (const [name, fn] of Object.entries(ACTIONS)) router.post(`/requests/:id/${name}`, act(app, fn));
}
