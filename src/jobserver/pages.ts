// The job server's pages, rendered on the server: they work without
// JavaScript (one optional script refreshes the status of unfinished requests),
// and every value reaches the markup through `html`, which escapes it.
//
// Public: the job log (/), a job request, a job. Members: their projects,
// workspaces, the job request form, released files and the form asking for
// them to be published. Staff: users and their roles, backends, publish
// requests to decide, incidents to close.
// Every change is an operation of api.ts, so the pages and the JSON API check
// the same permissions and write the same audit entries. Forms post back with
// the CSRF token (http.ts) and answer with a redirect, so reloading never posts
// twice; the notices after a redirect are fixed texts chosen by a key.

import { createHash } from "node:crypto";
import {
  type App,
  type RunInput,
  PAGE_SIZE,
  addBackendMember,
  archiveWorkspace,
  attemptLogin,
  cancelJobs,
  changeProjectStatus,
  closeIncident,
  createBackend,
  createWorkspace,
  decidePublish,
  downloadReleasedFile,
  grantRole,
  jobRequestPage,
  jobRequestQuery,
  loadJob,
  loadJobRequest,
  loadProject,
  loadWorkspace,
  mayRequestPublish,
  mayViewProject,
  noteText,
  projectNumber,
  releasedFileUrl,
  requestJobs,
  requestPublish,
  requireViewProject,
  revokeRole,
  rotateApiToken,
  rotateBackendToken,
} from "./api.js";
import { type Ctx, type HtmlValue, CSRF_FIELD, HttpError, PRE_SESSION_COOKIE, Router, SESSION_COOKIE, STATUS_TEXT, SafeHtml, html, path, requirePermission, requireUser } from "./http.js";
import { GLOBAL_ROLES, PROJECT_ROLES, PROJECT_STATUSES } from "./permissions.js";
import { workspaceActions } from "./requests.js";
import { type Incident, type Job, type JobRequest, type Project, type PublishRequest, type ReleasedFile, type Workspace, REQUEST_STATUSES } from "./store.js";

// ---------------------------------------------------------------------------
// Static files: one stylesheet and the optional refresh script, versioned by
// their hash so they can be cached for long.

const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --link: #0b57d0; --focus: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
a { color: var(--link); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 1; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
header nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header form { display: inline; }
.brand { font-weight: 700; text-decoration: none; color: var(--ink); }
main { padding: 1rem 1.5rem 3rem; max-width: 80rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
thead th { border-bottom: 2px solid var(--ink); }
tbody th { font-weight: normal; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; overflow-wrap: anywhere; }
form.stack > div, fieldset > div { margin: .4rem 0; }
fieldset { border: 1px solid var(--line); margin: .5rem 0; }
label { font-weight: 600; margin-right: .4rem; }
input[type=checkbox] + label { font-weight: normal; }
input, select, button { font: inherit; padding: .25rem .4rem; }
button { cursor: pointer; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; }
.notice { border-left: 4px solid #1a7f37; padding: .5rem 1rem; background: #f0fff4; }
.problems { border-left: 4px solid #cf222e; padding: .5rem 1rem; background: #fff5f5; }
.secret { font-size: 1.1rem; padding: .5rem; background: #f6f8fa; border: 1px dashed var(--muted); display: inline-block; }
.muted { color: var(--muted); }
.status { white-space: nowrap; font-weight: 600; }
.status-succeeded { color: #1a7f37; } .status-failed { color: #cf222e; }
.status-running { color: #0969da; } .status-pending, .status-cancelled { color: var(--muted); }
.status-approved, .status-published { color: #1a7f37; } .status-rejected { color: #cf222e; }
textarea { font: inherit; width: 100%; max-width: 40rem; }
.pager { display: flex; gap: 1.5rem; }
`;

const REFRESH = `// Optional: while a page shows unfinished work (main[data-refresh]), fetch it
// again every few seconds and swap in its [data-refresh-region]. Pages work without it.
(() => {
  const main = document.querySelector("main[data-refresh]");
  if (!main) return;
  const seconds = Math.max(5, Number(main.dataset.refresh) || 10);
  const tick = async () => {
    const region = document.querySelector("[data-refresh-region]");
    if (!region) return;
    if (document.visibilityState === "visible" && !region.contains(document.activeElement)) {
      try {
        const res = await fetch(location.href, { credentials: "same-origin" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.querySelector("[data-refresh-region]");
        if (fresh) region.replaceChildren(...fresh.childNodes);
        if (!doc.querySelector("main[data-refresh]")) return;
      } catch {
        // The next tick tries again.
      }
    }
    setTimeout(tick, seconds * 1000);
  };
  setTimeout(tick, seconds * 1000);
})();
`;

const version = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 12);
const STYLE_PATH = `/static/style-${version(STYLE)}.css`;
const REFRESH_PATH = `/static/refresh-${version(REFRESH)}.js`;

// ---------------------------------------------------------------------------
// Pieces

const NOTICES: Readonly<Record<string, string>> = {
  "logged-out": "You have logged out.",
  cancelled: "The job request was cancelled, or its backend was asked to stop it.",
  archived: "The workspace is archived: it takes no new jobs.",
  unarchived: "The workspace is no longer archived.",
  status: "The project's status was changed.",
  workspace: "The workspace was created.",
  granted: "The role was granted.",
  revoked: "The role was revoked.",
  "backend-member": "The user may now run jobs on the backend.",
  "publish-requested": "Your publish request was made: an OutputPublisher will approve or reject it.",
  "publish-approved": "The publish request was approved: an operator can now publish it with enclave publish.",
  "publish-rejected": "The publish request was rejected.",
  "incident-closed": "The incident was closed: the workspace is no longer restricted by it.",
};

const STATUS_GLYPH: Readonly<Record<string, string>> = { pending: "○", running: "◐", succeeded: "✓", failed: "✗", cancelled: "⊘", approved: "✓", rejected: "✗", published: "✓" };

/** The status as a word (colour and glyph are extras, never the only sign). */
function status(value: string): SafeHtml {
  return html`<span class="status status-${value}"><span aria-hidden="true">${STATUS_GLYPH[value] ?? "•"}</span> ${value}</span>`;
}

function time(iso: string | null, none = "not yet"): SafeHtml {
  if (!iso) return html`<span class="muted">${none}</span>`;
  const shown = iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") + " UTC";
  return html`<time datetime="${iso}">${shown}</time>`;
}

const short = (commit: string): string => commit.slice(0, 12);
const yesNo = (b: boolean): string => (b ? "yes" : "no");

function csrfField(ctx: Ctx): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrfToken()}">`;
}

/** A form with one button, posting to `action` with the CSRF token and these hidden fields. */
function button(ctx: Ctx, action: string, label: string, fields: Record<string, string> = {}): SafeHtml {
  return html`<form method="post" action="${action}">${csrfField(ctx)}${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button type="submit">${label}</button></form>`;
}

function details(rows: readonly [string, HtmlValue][]): SafeHtml {
  return html`<dl>${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function problemsBox(problems: readonly string[]): SafeHtml {
  return html`<div class="problems" role="alert"><h2>${problems.length === 1 ? "The request was refused" : `The request was refused, for ${problems.length} reasons`}</h2><ul>${problems.map((p) => html`<li>${p}</li>`)}</ul></div>`;
}

interface Layout {
  title: string;
  body: SafeHtml;
  /** Links to the staff pages the user may use. */
  staff?: { users: boolean; backends: boolean; publish: boolean; incidents: boolean };
  /** Seconds between refreshes while something shown is unfinished. */
  refresh?: number;
}

function layout(ctx: Ctx, view: Layout): SafeHtml {
  const user = ctx.user;
  const notice = NOTICES[ctx.query.get("done") ?? ""];
  const nav: SafeHtml[] = [html`<li><a href="/">Job log</a></li>`];
  if (user) {
    nav.push(html`<li><a href="/projects">Projects</a></li>`, html`<li><a href="/account">Account</a></li>`);
    if (view.staff?.users) nav.push(html`<li><a href="/staff/users">Users</a></li>`);
    if (view.staff?.backends) nav.push(html`<li><a href="/staff/backends">Backends</a></li>`);
    if (view.staff?.publish) nav.push(html`<li><a href="/staff/publish-requests">Publish requests</a></li>`);
    if (view.staff?.incidents) nav.push(html`<li><a href="/staff/incidents">Incidents</a></li>`);
  }
  const who = user
    ? html`<span>Logged in as <strong>${user.username}</strong></span> <form method="post" action="/logout">${csrfField(ctx)}<button type="submit">Log out</button></form>`
    : html`<a href="${`/login?next=${encodeURIComponent(ctx.path + ctx.url.search)}`}">Log in</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${view.title} · Enclave job server</title>
<link rel="stylesheet" href="${STYLE_PATH}">
${view.refresh ? html`<script src="${REFRESH_PATH}" defer></script>` : ""}
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header>
<a class="brand" href="/">Enclave job server</a>
<nav aria-label="Main"><ul>${nav}</ul></nav>
<div>${who}</div>
</header>
<main id="main"${view.refresh ? html` data-refresh="${view.refresh}"` : ""}>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ""}
${view.body}
</main>
</body>
</html>`;
}

async function render(ctx: Ctx, title: string, body: SafeHtml, options: { status?: number; refresh?: number } = {}): Promise<void> {
  const staff = ctx.user
    ? {
        users: (await ctx.can("user.manage")) || (await ctx.can("project.edit_roles")),
        backends: await ctx.can("backend.manage"),
        publish: await ctx.can("snapshot.publish"),
        incidents: await ctx.can("user.manage"),
      }
    : undefined;
  ctx.html(layout(ctx, { title, body, staff, refresh: options.refresh }), options.status ?? 200);
}

export function errorPage(ctx: Ctx, status: number, message: string): SafeHtml {
  const title = STATUS_TEXT[status] ?? `Error ${status}`;
  const login = status === 401 ? html`<p><a href="/login">Log in</a></p>` : "";
  return layout(ctx, { title, body: html`<h1>${title}</h1><p>${message}</p>${login}<p><a href="/">Back to the job log</a></p>` });
}

const unfinished = (r: JobRequest): boolean => r.status === "pending" || r.status === "running";

function requestTable(requests: readonly JobRequest[], caption: string): SafeHtml {
  if (requests.length === 0) return html`<p>No job requests.</p>`;
  return html`<table>
<caption>${caption}</caption>
<thead><tr><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Project</th><th scope="col">Workspace</th><th scope="col">Requested by</th><th scope="col">Jobs done</th><th scope="col">Backend</th><th scope="col">Started (or created)</th></tr></thead>
<tbody>${requests.map(
    (r) => html`<tr><th scope="row"><a href="${path`/job-requests/${r.identifier}`}"><code>${r.identifier}</code></a></th><td>${status(r.status)}</td><td><a href="${`/?project=${r.project}`}">${r.project} ${r.projectName}</a></td><td><a href="${`/?workspace=${encodeURIComponent(r.workspace)}`}">${r.workspace}</a></td><td>${r.requester}</td><td>${r.jobsDone} of ${r.jobsTotal}</td><td>${r.backend}</td><td>${r.started ? time(r.started) : html`created ${time(r.created)}`}</td></tr>`,
  )}</tbody>
</table>`;
}

// ---------------------------------------------------------------------------
// Public pages

async function jobLog(app: App, ctx: Ctx): Promise<void> {
  const { filter, limit } = jobRequestQuery(ctx.query);
  const { jobRequests, next } = await jobRequestPage(app, ctx.query);
  const keep = (extra: Record<string, string>): string => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...filter, ...(limit === PAGE_SIZE ? {} : { limit }) })) if (v !== undefined) q.set(k, String(v));
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    const s = q.toString();
    return s === "" ? "/" : `/?${s}`;
  };
  const filtered = Object.keys(filter).length > 0;
  const body = html`<h1>Job requests</h1>
<p>Every job request on every backend, newest first. No file names or outputs appear here: only states, codes and messages.</p>
<form method="get" action="/" class="filters" role="search" aria-label="Filter the job requests">
<div><label for="f-project">Project number</label><input id="f-project" name="project" inputmode="numeric" pattern="[0-9]*" size="6" value="${filter.project ?? ""}"></div>
<div><label for="f-workspace">Workspace</label><input id="f-workspace" name="workspace" size="16" value="${filter.workspace ?? ""}"></div>
<div><label for="f-backend">Backend</label><input id="f-backend" name="backend" size="10" value="${filter.backend ?? ""}"></div>
<div><label for="f-status">Status</label><select id="f-status" name="status"><option value="">any</option>${REQUEST_STATUSES.map((s) => html`<option value="${s}"${filter.status === s ? html` selected` : ""}>${s}</option>`)}</select></div>
<div><button type="submit">Filter</button>${filtered ? html` <a href="/">Show all</a>` : ""}</div>
</form>
<div data-refresh-region>${requestTable(jobRequests, filtered ? "Job requests matching the filter, newest first" : "Job requests, newest first")}</div>
<nav class="pager" aria-label="Pages">${ctx.query.get("before") ? html`<a href="${keep({})}">Newest</a>` : ""}${next ? html`<a href="${keep({ before: next })}">Older requests</a>` : ""}</nav>`;
  await render(ctx, "Job requests", body, { refresh: ctx.query.get("before") ? undefined : 15 });
}

async function jobRequestPageHtml(app: App, ctx: Ctx): Promise<void> {
  const r = await loadJobRequest(app, ctx.params.id!);
  const jobs = await app.store.listJobs(r.identifier);
  let cancel: SafeHtml | string = "";
  if (ctx.user && unfinished(r) && !r.cancelRequested && (await ctx.can("job.cancel", await loadProject(app, r.project)))) {
    cancel = html`<h2>Cancel</h2><p>Cancelling stops the jobs that have not finished.</p>${button(ctx, path`/job-requests/${r.identifier}/cancel`, "Cancel this job request")}`;
  }
  const body = html`<h1>Job request <code>${r.identifier}</code></h1>
<div data-refresh-region>
${details([
    ["Status", status(r.status)],
    ["Message", r.message || html`<span class="muted">none</span>`],
    ["Project", `${r.project} ${r.projectName}`],
    ["Workspace", html`<a href="${path`/workspaces/${r.workspace}`}">${r.workspace}</a>`],
    ["Backend", r.backend],
    ["Requested by", r.requester],
    ["Commit", html`<code>${r.commit}</code>`],
    ["Actions", html`<code>${r.actions.join(" ")}</code>`],
    ["Force-run dependencies", yesNo(r.force)],
    ["Cancellation asked for", yesNo(r.cancelRequested)],
    ["Jobs done", `${r.jobsDone} of ${r.jobsTotal}`],
    ["Created", time(r.created)],
    ["Picked up by the backend", time(r.claimedAt)],
    ["Started", time(r.started)],
    ["Finished", time(r.finished)],
  ])}
<h2>Jobs</h2>
${jobs.length === 0
    ? html`<p>No jobs yet: the backend reports them once it has planned the request.</p>`
    : html`<table><caption>The jobs of this request</caption>
<thead><tr><th scope="col">Job</th><th scope="col">Action</th><th scope="col">Status</th><th scope="col">Status code</th><th scope="col">Message</th><th scope="col">Run</th><th scope="col">Started</th><th scope="col">Finished</th></tr></thead>
<tbody>${jobs.map((j) => html`<tr><th scope="row"><a href="${path`/jobs/${j.identifier}`}"><code>${j.identifier}</code></a></th><td>${j.action}</td><td>${status(j.status)}</td><td>${j.statusCode}</td><td>${j.statusMessage}</td><td><code>${j.runCommand}</code></td><td>${time(j.started)}</td><td>${time(j.finished)}</td></tr>`)}</tbody></table>`}
</div>
${cancel}`;
  await render(ctx, `Job request ${r.identifier}`, body, { refresh: unfinished(r) ? 5 : undefined });
}

function resources(job: Job): [string, HtmlValue][] {
  const mib = job.memoryBytes === null ? null : (job.memoryBytes / 1048576).toFixed(1);
  return [
    ["CPU time", job.cpuSeconds === null ? html`<span class="muted">not known</span>` : `${job.cpuSeconds.toFixed(1)} s`],
    ["Peak memory", mib === null ? html`<span class="muted">not known</span>` : `${mib} MiB`],
  ];
}

async function jobPage(app: App, ctx: Ctx): Promise<void> {
  const job = await loadJob(app, ctx.params.id!);
  const r = await loadJobRequest(app, job.jobRequest);
  const running = job.status === "pending" || job.status === "running";
  const body = html`<h1>Job <code>${job.identifier}</code>: ${job.action}</h1>
<div data-refresh-region>
${details([
    ["Action", job.action],
    ["Status", status(job.status)],
    ["Status code", job.statusCode || html`<span class="muted">none</span>`],
    ["Message", job.statusMessage || html`<span class="muted">none</span>`],
    ["Job request", html`<a href="${path`/job-requests/${r.identifier}`}"><code>${r.identifier}</code></a>`],
    ["Workspace", html`<a href="${path`/workspaces/${r.workspace}`}">${r.workspace}</a>`],
    ["Commit", html`<code>${r.commit}</code>`],
    ["Run", html`<code>${job.runCommand}</code>`],
    ["Created", time(job.created)],
    ["Started", time(job.started)],
    ["Finished", time(job.finished)],
    ["Exit code", job.exitCode === null ? html`<span class="muted">none</span>` : String(job.exitCode)],
    ...resources(job),
  ])}
</div>`;
  await render(ctx, `Job ${job.action}`, body, { refresh: running ? 5 : undefined });
}

// ---------------------------------------------------------------------------
// People: logging in and out, the API token

/** Where to go after logging in: only a path on this server, never another site. */
function localPath(text: string | null | undefined): string {
  return text && /^\/(?![/\\])[^\s]*$/.test(text) ? text : "/";
}

function loginForm(ctx: Ctx, next: string, username = "", problem?: string): SafeHtml {
  return html`<h1>Log in</h1>
${problem ? html`<p class="problems" role="alert">${problem}</p>` : ""}
<form method="post" action="/login" class="stack">
${csrfField(ctx)}<input type="hidden" name="next" value="${next}">
<div><label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="${username}"></div>
<div><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
<div><button type="submit">Log in</button></div>
</form>`;
}

async function login(app: App, ctx: Ctx): Promise<void> {
  const form = await ctx.form();
  const username = (form.get("username") ?? "").trim();
  const next = localPath(form.get("next"));
  let user;
  try {
    user = await attemptLogin(app, { username, password: form.get("password") ?? "", address: ctx.req.socket.remoteAddress ?? "unknown", actor: "anonymous" });
  } catch (e) {
    // A refused login is the form again, with why; anything else is an error like any other.
    if (!(e instanceof HttpError)) throw e;
    return ctx.html(layout(ctx, { title: "Log in", body: loginForm(ctx, next, username, e.message) }), e.status, { ...e.headers });
  }
  const session = await app.store.createSession(user.username, app.sessionTtlSeconds);
  ctx.setCookie(SESSION_COOKIE, session.token, { maxAge: app.sessionTtlSeconds });
  ctx.clearCookie(PRE_SESSION_COOKIE);
  ctx.redirect(next);
}

async function logout(app: App, ctx: Ctx): Promise<void> {
  if (ctx.auth.kind === "session") {
    const who = ctx.auth.user.username;
    await app.store.deleteSession(ctx.auth.token, { actor: who, action: "logout", subject: `user:${who}`, details: {} });
  }
  ctx.clearCookie(SESSION_COOKIE);
  ctx.redirect("/?done=logged-out");
}

async function account(app: App, ctx: Ctx, token?: string): Promise<void> {
  const principal = await ctx.requirePrincipal();
  const user = ctx.user!;
  const backends = await app.store.userBackends(user.username);
  const projectRoles = Object.entries(principal.projectRoles);
  const body = html`<h1>Your account</h1>
${details([
    ["Username", user.username],
    ["Name", user.fullName || html`<span class="muted">not given</span>`],
    ["Email", user.email || html`<span class="muted">not given</span>`],
    ["Global roles", principal.globalRoles.length ? principal.globalRoles.join(", ") : html`<span class="muted">none</span>`],
    ["Project roles", projectRoles.length ? html`<ul>${projectRoles.map(([n, roles]) => html`<li><a href="${path`/projects/${n}`}">Project ${n}</a>: ${roles.join(", ")}</li>`)}</ul>` : html`<span class="muted">none</span>`],
    ["Backends you may run jobs on", backends.length ? backends.join(", ") : html`<span class="muted">none</span>`],
  ])}
<h2>API token</h2>
<p>Scripts use the JSON API with <code>Authorization: Bearer &lt;token&gt;</code>. A token works for the API only, never for these pages. Creating a new token stops the old one working.</p>
${token ? html`<p role="status">Your new token, shown this once (only its hash is kept):</p><p><code class="secret">${token}</code></p>` : ""}
${button(ctx, "/account/api-token", token ? "Replace it with another new token" : "Create a new API token")}`;
  await render(ctx, "Your account", body);
}

// ---------------------------------------------------------------------------
// Projects and workspaces

async function projectsPage(app: App, ctx: Ctx): Promise<void> {
  const principal = await ctx.requirePrincipal();
  const projects = (await app.store.listProjects()).filter((p) => mayViewProject(principal, p));
  const body = html`<h1>Projects</h1>
${projects.length === 0
    ? html`<p>You are not a member of any project.</p>`
    : html`<table><caption>The projects you may see</caption>
<thead><tr><th scope="col">Number</th><th scope="col">Name</th><th scope="col">Organisation</th><th scope="col">Status</th><th scope="col">Category</th><th scope="col">Your roles</th></tr></thead>
<tbody>${projects.map((p) => html`<tr><th scope="row"><a href="${path`/projects/${p.number}`}">${p.number}</a></th><td>${p.name}</td><td>${p.org}</td><td>${p.status}</td><td>${p.category}</td><td>${(principal.projectRoles[p.number] ?? []).join(", ") || html`<span class="muted">none</span>`}</td></tr>`)}</tbody></table>`}`;
  await render(ctx, "Projects", body);
}

async function projectPage(app: App, ctx: Ctx): Promise<void> {
  const project = await loadProject(app, projectNumber(ctx.params.number!));
  await requireViewProject(ctx, project);
  const [members, workspaces, mayStatus, mayCreate, mayRoles] = await Promise.all([
    app.store.listMembers(project.number),
    app.store.listWorkspaces(project.number),
    ctx.can("project.create", project),
    ctx.can("workspace.create", project),
    ctx.can("project.edit_roles", project),
  ]);
  const statusForm = mayStatus
    ? html`<form method="post" action="${path`/projects/${project.number}/status`}">${csrfField(ctx)}<label for="status">Status</label><select id="status" name="status">${PROJECT_STATUSES.map((s) => html`<option value="${s}"${s === project.status ? html` selected` : ""}>${s}</option>`)}</select> <button type="submit">Change the status</button></form>
<p class="muted">Members can run jobs and see level 4 outputs only while the project is ongoing.</p>`
    : "";
  const createForm = mayCreate
    ? html`<h2>Create a workspace</h2>
<form method="post" action="${path`/projects/${project.number}/workspaces`}" class="stack">${csrfField(ctx)}
<div><label for="ws-name">Name</label><input id="ws-name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]*" maxlength="64"></div>
<div><label for="ws-repo">Repository</label><input id="ws-repo" name="repo" required size="50"></div>
<div><label for="ws-branch">Branch</label><input id="ws-branch" name="branch" required value="main"></div>
<div><button type="submit">Create the workspace</button></div></form>`
    : "";
  const body = html`<h1>Project ${project.number}: ${project.name}</h1>
${details([
    ["Status", project.status],
    ["Category", project.category],
    ["Organisation", project.org],
    ["Created", time(project.created)],
  ])}
${statusForm}
<p><a href="${`/?project=${project.number}`}">This project's job requests</a></p>
<h2>Members</h2>
${members.length === 0
    ? html`<p>No members.</p>`
    : html`<table><caption>Members and their roles in this project</caption><thead><tr><th scope="col">User</th><th scope="col">Roles</th></tr></thead>
<tbody>${members.map((m) => html`<tr><th scope="row">${mayRoles ? html`<a href="${path`/staff/users/${m.username}`}">${m.username}</a>` : m.username}</th><td>${m.roles.join(", ") || html`<span class="muted">none</span>`}</td></tr>`)}</tbody></table>`}
<h2>Workspaces</h2>
${workspaces.length === 0
    ? html`<p>No workspaces.</p>`
    : html`<table><caption>This project's workspaces</caption><thead><tr><th scope="col">Workspace</th><th scope="col">Repository</th><th scope="col">Branch</th><th scope="col">Archived</th></tr></thead>
<tbody>${workspaces.map((w) => html`<tr><th scope="row"><a href="${path`/workspaces/${w.name}`}">${w.name}</a></th><td><code>${w.repo}</code></td><td>${w.branch}</td><td>${yesNo(w.archived)}</td></tr>`)}</tbody></table>`}
${createForm}`;
  await render(ctx, `Project ${project.number}`, body);
}

interface RunForm {
  problems: readonly string[];
  actions: readonly string[];
  runAll: boolean;
  force: boolean;
  backend: string;
}

async function runSection(app: App, ctx: Ctx, workspace: Workspace, project: Project, form?: RunForm): Promise<SafeHtml | string> {
  if (!(await ctx.can("job.run", project))) {
    return project.status !== "ongoing" && ctx.user && mayViewProject(await ctx.principal(), project) ? html`<h2>Run jobs</h2><p>Project ${project.number} is ${project.status}: its members can no longer run jobs.</p>` : "";
  }
  if (workspace.archived) return html`<h2>Run jobs</h2><p>This workspace is archived: it takes no new jobs.</p>${form ? problemsBox(form.problems) : ""}`;
  if (workspace.restricted) return html`<h2>Run jobs</h2><p>This workspace is restricted by an incident (above): it takes no job requests until staff close it.</p>${form ? problemsBox(form.problems) : ""}`;
  const backends = await app.store.userBackends(ctx.user!.username);
  let found: { commit: string; actions: string[] };
  try {
    found = await workspaceActions(app.store, workspace.name, { allowedRepos: app.allowedRepos });
  } catch (e) {
    return html`<h2>Run jobs</h2>${form ? problemsBox(form.problems) : ""}<p class="problems" role="alert">The actions of this workspace cannot be read: ${(e as Error).message}</p>`;
  }
  if (backends.length === 0) return html`<h2>Run jobs</h2><p>You may run jobs on no backend yet: a staff member can give you a backend membership.</p>`;
  const chosen = new Set(form?.actions ?? []);
  return html`<h2>Run jobs</h2>
${form ? problemsBox(form.problems) : ""}
<form method="post" action="${path`/workspaces/${workspace.name}/run`}" class="stack">
${csrfField(ctx)}<input type="hidden" name="commit" value="${found.commit}">
<p>At commit <code>${short(found.commit)}</code>, the tip of branch <code>${workspace.branch}</code>.</p>
<fieldset><legend>Actions to run</legend>
${found.actions.map((a, i) => html`<div><input type="checkbox" id="${`action-${i}`}" name="action" value="${a}"${chosen.has(a) ? html` checked` : ""}><label for="${`action-${i}`}">${a}</label></div>`)}
<div><input type="checkbox" id="run-all" name="run_all" value="yes"${form?.runAll ? html` checked` : ""}><label for="run-all">run_all (every action)</label></div>
</fieldset>
<div><input type="checkbox" id="force" name="force" value="yes"${form?.force ? html` checked` : ""}><label for="force">Force-run dependencies (rerun the actions these need, even if they succeeded)</label></div>
<div><label for="backend">Backend</label><select id="backend" name="backend">${backends.map((b) => html`<option value="${b}"${form?.backend === b ? html` selected` : ""}>${b}</option>`)}</select></div>
<div><button type="submit">Request these jobs</button></div>
</form>`;
}

/** Bytes as people read them: 123 bytes, 12.3 KiB, 4.5 MiB. */
function bytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? "" : "s"}`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** The files released from the workspace, each a download (always an attachment); for those with release.view only. */
function releasedSection(files: readonly ReleasedFile[]): SafeHtml {
  return html`<h2>Released files</h2>
${files.length === 0
    ? html`<p>Nothing has been released from this workspace yet.</p>`
    : html`<table><caption>Files released from this workspace after output checking, the latest release first; each link downloads the file</caption>
<thead><tr><th scope="col">File</th><th scope="col">Size</th><th scope="col">SHA-256</th><th scope="col">Released by</th><th scope="col">Released</th></tr></thead>
<tbody>${files.map((f) => html`<tr><th scope="row"><a href="${releasedFileUrl("/releases", f.release, f.name)}" download>${f.name}</a></th><td>${bytes(f.size)}</td><td><code>${f.sha256}</code></td><td>${f.releasedBy}</td><td>${time(f.released)}</td></tr>`)}</tbody></table>`}`;
}

async function workspacePage(app: App, ctx: Ctx, form?: RunForm): Promise<void> {
  const { workspace, project } = await loadWorkspace(app, ctx.params.name!);
  const principal = await requireViewProject(ctx, project);
  const [requests, mayArchive, run, mayViewReleased, incidents] = await Promise.all([
    app.store.listJobRequests({ workspace: workspace.name }, { limit: PAGE_SIZE }),
    ctx.can("workspace.archive", project),
    runSection(app, ctx, workspace, project, form),
    ctx.can("release.view", project),
    workspace.restricted ? app.store.listIncidents({ workspace: workspace.name, open: true }) : Promise.resolve([]),
  ]);
  let released: SafeHtml | string = "";
  if (mayViewReleased) {
    const files = await app.store.listReleasedFiles(workspace.name);
    const publishRequests = await app.store.listPublishRequests({ workspace: workspace.name }, PAGE_SIZE);
    released = html`${releasedSection(files)}${publishSection(ctx, workspace, files, publishRequests, mayRequestPublish(principal, project))}`;
  }
  const archive = mayArchive
    ? button(ctx, path`/workspaces/${workspace.name}/archive`, workspace.archived ? "Unarchive this workspace" : "Archive this workspace", { archived: workspace.archived ? "no" : "yes" })
    : "";
  const body = html`<h1>Workspace ${workspace.name}</h1>
${incidents.map(incidentBox)}
${details([
    ["Project", html`<a href="${path`/projects/${project.number}`}">${project.number} ${project.name}</a> (${project.status})`],
    ["Repository", html`<code>${workspace.repo}</code>`],
    ["Branch", workspace.branch],
    ["Archived", yesNo(workspace.archived)],
    ["Restricted", workspace.restricted ? "yes: an incident is open" : "no"],
    ["Created", time(workspace.created)],
  ])}
${archive}
${run}
<h2>Job requests</h2>
<div data-refresh-region>${requestTable(requests, `The latest ${PAGE_SIZE} job requests of this workspace, newest first`)}</div>
<p><a href="${`/?workspace=${encodeURIComponent(workspace.name)}`}">All of this workspace's job requests</a></p>
${released}`;
  await render(ctx, `Workspace ${workspace.name}`, body, { status: form ? 422 : 200, refresh: !form && requests.some(unfinished) ? 15 : undefined });
}

/** An open incident, as the workspace's page shows it: what was removed, and what it means for the workspace. */
function incidentBox(i: Incident): SafeHtml {
  return html`<div class="problems" role="alert"><h2>Restricted: incident <code>${i.id}</code> on workspace ${i.workspace}</h2>
<p>A leak was cleaned from the repository of workspace ${i.workspace} (<code>${i.repo}</code>) on ${time(i.opened)}, by ${i.openedBy}. Until staff close the incident, the workspace takes no job requests and nothing is published from it.</p>
<p>Every other copy of the repository (clones, forks) still holds what was removed: delete it and clone again, or clean it with <code>enclave breach clean</code> and these blobs.</p>
<ul>${i.blobs.map((b) => html`<li>blob <code>${b.id}</code>${b.paths.length > 0 ? html` at ${b.paths.map((p, k) => html`${k > 0 ? ", " : ""}<code>${p}</code>`)}` : ""}</li>`)}</ul>
${i.refsRewritten.length > 0 ? html`<p>Rewritten: ${i.refsRewritten.join(", ")}.</p>` : ""}${i.refsDeleted.length > 0 ? html`<p>Deleted: ${i.refsDeleted.join(", ")}.</p>` : ""}</div>`;
}

/** The value of a released file's checkbox: its release and name (a release id holds no ":"). */
const publishValue = (f: { release: string; name: string }): string => `${f.release}:${f.name}`;

/** The workspace's publish requests, and the form asking for released files to be published (for members other than collaborators). */
function publishSection(ctx: Ctx, workspace: Workspace, files: readonly ReleasedFile[], requests: readonly PublishRequest[], mayRequest: boolean): SafeHtml {
  let form: SafeHtml | string = "";
  if (mayRequest && files.length > 0) {
    form = workspace.restricted
      ? html`<p>Nothing is published from this workspace while an incident is open.</p>`
      : html`<form method="post" action="${path`/workspaces/${workspace.name}/publish-requests`}" class="stack">${csrfField(ctx)}
<fieldset><legend>Released files to publish</legend>
${files.map((f, i) => html`<div><input type="checkbox" id="${`publish-${i}`}" name="file" value="${publishValue(f)}"><label for="${`publish-${i}`}">${f.name} <span class="muted">(release <code>${f.release}</code>, sha256 <code>${f.sha256.slice(0, 12)}</code>)</span></label></div>`)}
</fieldset>
<div><label for="publish-note">Why (optional)</label><textarea id="publish-note" name="note" rows="3" maxlength="2000"></textarea></div>
<div><button type="submit">Ask for these files to be published</button></div></form>`;
  }
  return html`<h2>Publish released files</h2>
<p>Released files reach the study's repository only through a publish request: an OutputPublisher other than the requester approves it, and an operator commits the files under <code>released_outputs/</code> on branch <code>${workspace.branch}</code>. Do not commit results to the repository yourself.</p>
${form}
${requests.length === 0
    ? html`<p>No publish requests yet.</p>`
    : html`<table><caption>This workspace's publish requests, newest first</caption>
<thead><tr><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Files</th><th scope="col">Asked by</th><th scope="col">Decided by</th><th scope="col">Commit</th></tr></thead>
<tbody>${requests.map((r) => html`<tr><th scope="row"><code>${r.id}</code></th><td>${status(r.status)}</td><td>${r.files.map((f, k) => html`${k > 0 ? ", " : ""}${f.name}`)}</td><td>${r.requester} ${time(r.created)}</td><td>${r.decidedBy ?? html`<span class="muted">not yet</span>`}</td><td>${r.commit ? html`<code>${short(r.commit)}</code>` : html`<span class="muted">none</span>`}</td></tr>`)}</tbody></table>`}`;
}

async function askToPublish(app: App, ctx: Ctx): Promise<void> {
  await ctx.requirePrincipal();
  const form = await ctx.form();
  const files = form.getAll("file").map((value) => {
    const colon = value.indexOf(":");
    if (colon < 0) throw new HttpError(400, `the file ${JSON.stringify(value)} is not one of the form's released files: reload the page and choose again`);
    return { release: value.slice(0, colon), name: value.slice(colon + 1) };
  });
  const request = await requestPublish(app, ctx, { workspace: ctx.params.name!, files, note: noteText(form.get("note") ?? "", "the note") });
  ctx.redirect(`${path`/workspaces/${request.workspace}`}?done=publish-requested`);
}

async function runJobs(app: App, ctx: Ctx): Promise<void> {
  const form = await ctx.form();
  const runAll = form.get("run_all") === "yes";
  const chosen = form.getAll("action").filter((a) => a !== "");
  const input: RunInput = {
    workspace: ctx.params.name!,
    backend: form.get("backend") ?? "",
    commit: form.get("commit") || undefined,
    actions: runAll ? ["run_all"] : chosen,
    force: form.get("force") === "yes",
  };
  try {
    const request = await requestJobs(app, ctx, input);
    ctx.redirect(path`/job-requests/${request.identifier}`);
  } catch (e) {
    const problems = e instanceof HttpError && e.status === 422 ? (e.extra.problems as string[] | undefined) : undefined;
    if (!problems) throw e;
    await workspacePage(app, ctx, { problems, actions: chosen, runAll, force: input.force, backend: input.backend });
  }
}

// ---------------------------------------------------------------------------
// Staff

async function usersPage(app: App, ctx: Ctx): Promise<void> {
  const users = await app.store.listUsers();
  const body = html`<h1>Users</h1>
<table><caption>Every account</caption><thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Staff</th><th scope="col">Created</th></tr></thead>
<tbody>${users.map((u) => html`<tr><th scope="row"><a href="${path`/staff/users/${u.username}`}">${u.username}</a></th><td>${u.fullName}</td><td>${u.email}</td><td>${yesNo(u.isStaff)}</td><td>${time(u.created)}</td></tr>`)}</tbody></table>`;
  await render(ctx, "Users", body);
}

async function userPage(app: App, ctx: Ctx): Promise<void> {
  const name = ctx.params.name!;
  const user = await app.store.getUser(name);
  if (!user) throw new HttpError(404, `there is no user named ${JSON.stringify(name)}`);
  const self = ctx.user!.username === user.username;
  const [principal, projects, backends, allBackends, manageUsers, editRoles, manageBackends] = await Promise.all([
    app.store.principal(user.username),
    app.store.listProjects(),
    app.store.userBackends(user.username),
    app.store.listBackends(),
    ctx.can("user.manage"),
    ctx.can("project.edit_roles"),
    ctx.can("backend.manage"),
  ]);
  const rolesAction = path`/staff/users/${user.username}/roles`;
  const revokeAction = path`/staff/users/${user.username}/roles/revoke`;
  const notHeld = GLOBAL_ROLES.filter((r) => !principal.globalRoles.includes(r));
  const projectRoles = Object.entries(principal.projectRoles).flatMap(([n, roles]) => roles.map((role) => ({ project: Number(n), role })));
  const body = html`<h1>User ${user.username}</h1>
${details([
    ["Name", user.fullName || html`<span class="muted">not given</span>`],
    ["Email", user.email || html`<span class="muted">not given</span>`],
    ["Staff", yesNo(user.isStaff)],
    ["Created", time(user.created)],
  ])}
${self ? html`<p>You cannot change your own roles: another administrator must.</p>` : ""}
<h2>Global roles</h2>
${principal.globalRoles.length === 0
    ? html`<p>None.</p>`
    : html`<table><caption>Global roles held</caption><thead><tr><th scope="col">Role</th><th scope="col">Change</th></tr></thead>
<tbody>${principal.globalRoles.map((r) => html`<tr><th scope="row">${r}</th><td>${manageUsers && !self ? button(ctx, revokeAction, `Revoke ${r}`, { role: r }) : ""}</td></tr>`)}</tbody></table>`}
${manageUsers && !self && notHeld.length > 0
    ? html`<form method="post" action="${rolesAction}">${csrfField(ctx)}<label for="global-role">Grant a global role</label><select id="global-role" name="role">${notHeld.map((r) => html`<option>${r}</option>`)}</select> <button type="submit">Grant</button></form>`
    : ""}
<h2>Project roles</h2>
${projectRoles.length === 0
    ? html`<p>None.</p>`
    : html`<table><caption>Project roles held</caption><thead><tr><th scope="col">Project</th><th scope="col">Role</th><th scope="col">Change</th></tr></thead>
<tbody>${projectRoles.map(({ project, role }) => html`<tr><th scope="row"><a href="${path`/projects/${project}`}">${project}</a></th><td>${role}</td><td>${editRoles && !self ? button(ctx, revokeAction, `Revoke ${role} in project ${project}`, { role, project: String(project) }) : ""}</td></tr>`)}</tbody></table>`}
${editRoles && !self && projects.length > 0
    ? html`<form method="post" action="${rolesAction}" class="stack">${csrfField(ctx)}<fieldset><legend>Grant a project role</legend>
<div><label for="grant-project">Project</label><select id="grant-project" name="project">${projects.map((p) => html`<option value="${p.number}">${p.number} ${p.name}</option>`)}</select></div>
<div><label for="grant-role">Role</label><select id="grant-role" name="role">${PROJECT_ROLES.map((r) => html`<option>${r}</option>`)}</select></div>
<div><button type="submit">Grant</button></div></fieldset></form>`
    : ""}
<h2>Backends</h2>
<p>${backends.length ? `May run jobs on: ${backends.join(", ")}.` : "May run jobs on no backend."}</p>
${manageBackends && allBackends.some((b) => !backends.includes(b.name))
    ? html`<form method="post" action="${path`/staff/users/${user.username}/backends`}">${csrfField(ctx)}<label for="backend">Allow jobs on</label><select id="backend" name="backend">${allBackends.filter((b) => !backends.includes(b.name)).map((b) => html`<option>${b.name}</option>`)}</select> <button type="submit">Allow</button></form>`
    : ""}`;
  await render(ctx, `User ${user.username}`, body);
}

async function roleChange(app: App, ctx: Ctx, revoke: boolean): Promise<void> {
  const form = await ctx.form();
  const project = form.get("project");
  const username = ctx.params.name!;
  const change = { username, role: form.get("role") ?? "", ...(project ? { project: projectNumberField(project) } : {}) };
  await (revoke ? revokeRole : grantRole)(app, ctx, change);
  ctx.redirect(`${path`/staff/users/${username}`}?done=${revoke ? "revoked" : "granted"}`);
}

function projectNumberField(text: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) throw new HttpError(400, `project ${JSON.stringify(text)}: give a project number`);
  return Number(text);
}

async function backendsPage(app: App, ctx: Ctx, shown?: { backend: string; token: string }): Promise<void> {
  const backends = await app.store.listBackends();
  const body = html`<h1>Backends</h1>
${shown ? html`<div role="status"><p>The token of backend <strong>${shown.backend}</strong>, shown this once (only its hash is kept; give it to the backend's agents):</p><p><code class="secret">${shown.token}</code></p></div>` : ""}
${backends.length === 0
    ? html`<p>No backends.</p>`
    : html`<table><caption>Backends</caption><thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Token last replaced</th><th scope="col">Token</th></tr></thead>
<tbody>${backends.map((b) => html`<tr><th scope="row">${b.name}</th><td>${time(b.created)}</td><td>${time(b.tokenRotated, "never")}</td><td>${button(ctx, path`/staff/backends/${b.name}/rotate`, `Replace the token of ${b.name}`)}</td></tr>`)}</tbody></table>`}
<h2>Create a backend</h2>
<form method="post" action="/staff/backends">${csrfField(ctx)}<label for="backend-name">Name</label><input id="backend-name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]*" maxlength="64"> <button type="submit">Create</button></form>`;
  await render(ctx, "Backends", body);
}

/** Pending publish requests with their decision forms, and approved ones waiting for `enclave publish`. */
async function publishRequestsPage(app: App, ctx: Ctx): Promise<void> {
  const me = ctx.user!.username;
  const [pending, approved] = await Promise.all([app.store.listPublishRequests({ status: "pending" }), app.store.listPublishRequests({ status: "approved" })]);
  const files = (r: PublishRequest) => html`<ul>${r.files.map((f) => html`<li><code>${f.name}</code> <span class="muted">release <code>${f.release}</code> (Airlock request ${f.request}, released by ${f.releasedBy}), sha256 <code>${f.sha256}</code></span></li>`)}</ul>`;
  const decide = (r: PublishRequest) =>
    r.requester === me
      ? html`<p>Your own request: another OutputPublisher must decide.</p>`
      : html`<form method="post" action="${path`/staff/publish-requests/${r.id}/approve`}" class="stack">${csrfField(ctx)}
<div><label for="${`note-${r.id}`}">Note (optional)</label><textarea id="${`note-${r.id}`}" name="note" rows="2" maxlength="2000"></textarea></div>
<div><button type="submit">Approve publishing</button> <button type="submit" formaction="${path`/staff/publish-requests/${r.id}/reject`}">Reject</button></div></form>`;
  const body = html`<h1>Publish requests</h1>
<p>Approving lets an operator commit these released files to the workspace's repository, which becomes public: check that each file is one the project means to publish. Nobody decides on their own request.</p>
<h2>Waiting for a decision</h2>
${pending.length === 0
    ? html`<p>No publish request is waiting.</p>`
    : pending.map(
        (r) => html`<section aria-labelledby="${`pr-${r.id}`}"><h3 id="${`pr-${r.id}`}">Request <code>${r.id}</code>: workspace <a href="${path`/workspaces/${r.workspace}`}">${r.workspace}</a> (project ${r.project})</h3>
<p>Asked by ${r.requester} on ${time(r.created)}.${r.note ? html` Why: ${r.note}` : ""}</p>${files(r)}${decide(r)}</section>`,
      )}
<h2>Approved, waiting to be published</h2>
${approved.length === 0
    ? html`<p>None.</p>`
    : html`<table><caption>Approved publish requests; an operator runs the command shown, on a clone of the workspace's repository</caption>
<thead><tr><th scope="col">Request</th><th scope="col">Workspace</th><th scope="col">Approved by</th><th scope="col">Command</th></tr></thead>
<tbody>${approved.map((r) => html`<tr><th scope="row"><code>${r.id}</code></th><td>${r.workspace}</td><td>${r.decidedBy} ${time(r.decided)}</td><td><code>enclave publish --request ${r.id} --repo CLONE</code></td></tr>`)}</tbody></table>`}`;
  await render(ctx, "Publish requests", body);
}

async function incidentsPage(app: App, ctx: Ctx): Promise<void> {
  const [open, closed] = await Promise.all([app.store.listIncidents({ open: true }), app.store.listIncidents({ open: false })]);
  const body = html`<h1>Incidents</h1>
<p>An incident is opened when a leak is cleaned from a workspace's repository (<code>enclave breach clean --workspace</code>). While it is open the workspace takes no job requests and nothing is published from it. Close it once every copy of the repository is clean and the breach has been reported.</p>
<h2>Open</h2>
${open.length === 0
    ? html`<p>No incident is open.</p>`
    : open.map(
        (i) => html`${incidentBox(i)}<form method="post" action="${path`/staff/incidents/${i.id}/close`}" class="stack">${csrfField(ctx)}
<div><label for="${`close-${i.id}`}">What was done (required)</label><textarea id="${`close-${i.id}`}" name="note" rows="3" maxlength="2000" required></textarea></div>
<div><button type="submit">Close incident ${i.id} and lift the restriction on ${i.workspace}</button></div></form>`,
      )}
<h2>Closed</h2>
${closed.length === 0
    ? html`<p>None.</p>`
    : html`<table><caption>Closed incidents, newest first</caption><thead><tr><th scope="col">Incident</th><th scope="col">Workspace</th><th scope="col">Opened</th><th scope="col">Closed</th><th scope="col">Note</th></tr></thead>
<tbody>${closed.slice(0, 50).map((i) => html`<tr><th scope="row"><code>${i.id}</code></th><td>${i.workspace}</td><td>${time(i.opened)} by ${i.openedBy}</td><td>${time(i.closed)} by ${i.closedBy ?? ""}</td><td>${i.closeNote ?? ""}</td></tr>`)}</tbody></table>`}`;
  await render(ctx, "Incidents", body);
}

// ---------------------------------------------------------------------------

const STAFF_USERS = requirePermission("user.manage", "project.edit_roles");

export function registerPages(router: Router, app: App): void {
  const immutable = { "Cache-Control": "public, max-age=31536000, immutable" };
  router.get(STYLE_PATH, async (ctx) => ctx.text(STYLE, "text/css; charset=utf-8", immutable));
  router.get(REFRESH_PATH, async (ctx) => ctx.text(REFRESH, "text/javascript; charset=utf-8", immutable));
  // Browsers ask for one whatever the page says; "no icon" is an answer, not an error.
  router.get("/favicon.ico", async (ctx) => ctx.empty(204));

  router.get("/", (ctx) => jobLog(app, ctx));
  router.get("/job-requests/:id", (ctx) => jobRequestPageHtml(app, ctx));
  router.post("/job-requests/:id/cancel", async (ctx) => {
    const r = await cancelJobs(app, ctx, ctx.params.id!);
    ctx.redirect(`${path`/job-requests/${r.identifier}`}?done=cancelled`);
  });
  router.get("/jobs/:id", (ctx) => jobPage(app, ctx));

  router.get("/login", async (ctx) => {
    const next = localPath(ctx.query.get("next"));
    if (ctx.user) return ctx.redirect(next);
    ctx.html(layout(ctx, { title: "Log in", body: loginForm(ctx, next) }));
  });
  router.post("/login", (ctx) => login(app, ctx));
  router.post("/logout", (ctx) => logout(app, ctx));
  router.get("/account", requireUser, (ctx) => account(app, ctx));
  router.post("/account/api-token", requireUser, async (ctx) => account(app, ctx, await rotateApiToken(app, ctx)));

  router.get("/projects", requireUser, (ctx) => projectsPage(app, ctx));
  router.get("/projects/:number", (ctx) => projectPage(app, ctx));
  router.post("/projects/:number/status", async (ctx) => {
    const number = projectNumber(ctx.params.number!);
    await changeProjectStatus(app, ctx, number, (await ctx.form()).get("status") ?? "");
    ctx.redirect(`/projects/${number}?done=status`);
  });
  router.post("/projects/:number/workspaces", async (ctx) => {
    const form = await ctx.form();
    const workspace = await createWorkspace(app, ctx, projectNumber(ctx.params.number!), { name: (form.get("name") ?? "").trim(), repo: (form.get("repo") ?? "").trim(), branch: (form.get("branch") ?? "").trim() });
    ctx.redirect(`${path`/workspaces/${workspace.name}`}?done=workspace`);
  });
  router.get("/workspaces/:name", (ctx) => workspacePage(app, ctx));
  router.post("/workspaces/:name/run", (ctx) => runJobs(app, ctx));
  router.post("/workspaces/:name/publish-requests", (ctx) => askToPublish(app, ctx));
  router.get("/releases/:id/file", (ctx) => downloadReleasedFile(app, ctx));
  router.post("/workspaces/:name/archive", async (ctx) => {
    const archived = (await ctx.form()).get("archived") !== "no";
    const workspace = await archiveWorkspace(app, ctx, ctx.params.name!, archived);
    ctx.redirect(`${path`/workspaces/${workspace.name}`}?done=${archived ? "archived" : "unarchived"}`);
  });

  router.get("/staff/users", STAFF_USERS, (ctx) => usersPage(app, ctx));
  router.get("/staff/users/:name", STAFF_USERS, (ctx) => userPage(app, ctx));
  router.post("/staff/users/:name/roles", (ctx) => roleChange(app, ctx, false));
  router.post("/staff/users/:name/roles/revoke", (ctx) => roleChange(app, ctx, true));
  router.post("/staff/users/:name/backends", async (ctx) => {
    await addBackendMember(app, ctx, (await ctx.form()).get("backend") ?? "", ctx.params.name!);
    ctx.redirect(`${path`/staff/users/${ctx.params.name!}`}?done=backend-member`);
  });
  router.get("/staff/backends", requirePermission("backend.manage"), (ctx) => backendsPage(app, ctx));
  router.post("/staff/backends", async (ctx) => {
    const { backend, token } = await createBackend(app, ctx, ((await ctx.form()).get("name") ?? "").trim());
    await backendsPage(app, ctx, { backend: backend.name, token });
  });
  router.post("/staff/backends/:name/rotate", async (ctx) => {
    const token = await rotateBackendToken(app, ctx, ctx.params.name!);
    await backendsPage(app, ctx, { backend: ctx.params.name!, token });
  });
  router.get("/staff/publish-requests", requirePermission("snapshot.publish"), (ctx) => publishRequestsPage(app, ctx));
  for (const [verb, decision] of [["approve", "approved"], ["reject", "rejected"]] as const) {
    router.post(`/staff/publish-requests/:id/${verb}`, async (ctx) => {
      await decidePublish(app, ctx, ctx.params.id!, decision, noteText((await ctx.form()).get("note") ?? "", "the note"));
      ctx.redirect(`/staff/publish-requests?done=publish-${decision}`);
    });
  }
  router.get("/staff/incidents", requirePermission("user.manage"), (ctx) => incidentsPage(app, ctx));
  router.post("/staff/incidents/:id/close", async (ctx) => {
    await closeIncident(app, ctx, ctx.params.id!, noteText((await ctx.form()).get("note"), "the note saying what was done", true));
    ctx.redirect("/staff/incidents?done=incident-closed");
  });
}
