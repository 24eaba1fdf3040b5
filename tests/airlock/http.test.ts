// Airlock's web service over HTTP, against a fake job server: logging in,
// every page and form for the author, two checkers, a member of the project,
// a collaborator and someone without access (allowed or refused), CSRF,
// downloads, the job's log and code, the re-check of access after 15 minutes
// (on a clock the test moves), and the accessibility rules on every page seen.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mirrorPath } from "../../src/airlock/code.js";
import type { Browser } from "../jobserver/http-helpers.js";
import { studyRepo } from "../jobserver/http-helpers.js";
import { tmp } from "./helpers.js";
import { CSV, TABLE_V1, TABLE_V2, WS, type WebWorld, accessibilityProblems, requestOf, startWebWorld } from "./web-helpers.js";

let w: WebWorld;
const b = {} as Record<"alice" | "mallory" | "collab" | "bob" | "carol" | "dave" | "eve", Browser>;
const fileUrl = (id: number, p = CSV, extra = "") => `/requests/${id}/file?path=${encodeURIComponent(p)}${extra}`;
const rawUrl = (id: number, p = CSV, extra = "") => `/requests/${id}/raw?path=${encodeURIComponent(p)}${extra}`;

beforeAll(async () => {
  w = await startWebWorld();
  for (const who of Object.keys({ alice: 1, mallory: 1, collab: 1, bob: 1, carol: 1, dave: 1, eve: 1 }) as (keyof typeof b)[]) b[who] = await w.login(who);
});
afterAll(async () => w.close());

/** A new workspace of project 1 whose job wrote the CSV. */
function workspace(name: string): string {
  w.fake.workspaces.set(name, { name, project: 1, archived: false, repo: "/srv/repos/study.git", branch: "main" });
  w.backend.write(name, CSV, TABLE_V1);
  return name;
}

/** Alice's request holding the CSV in a new workspace, submitted; returns its number. */
async function submittedRequest(ws: string): Promise<number> {
  const add = await b.alice.post(`/workspaces/${workspace(ws)}/add`, { path: CSV, group: "tables", kind: "output" });
  const id = requestOf(add);
  expect((await b.alice.post(`/requests/${id}/group`, { group: "tables", context: "counts by group", controls: "small counts suppressed" })).status).toBe(303);
  expect((await b.alice.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(303);
  return id;
}

async function review(who: Browser, id: number, vote: "approved" | "changes_requested"): Promise<void> {
  expect((await who.post(`/requests/${id}/vote`, { path: CSV, vote })).status).toBe(303);
  if (vote === "changes_requested") expect((await who.post(`/requests/${id}/comment`, { group: "tables", text: "round the small count", visibility: "private" })).status).toBe(303);
  expect((await who.post(`/requests/${id}/review`)).status).toBe(303);
}

describe("logging in", () => {
  it("sends a visitor without a session to the login page, keeping where they were going", async () => {
    const res = await fetch(`${w.base}/requests/1?x=1`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/login?next=${encodeURIComponent("/requests/1?x=1")}`);
  });

  it("refuses a login without the form's CSRF token", async () => {
    const res = await fetch(`${w.base}/login`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "username=alice&password=pw-alice", redirect: "manual" });
    expect(res.status).toBe(403);
  });

  it("refuses a wrong password with the job server's verdict, and no session", async () => {
    const { RecordingBrowser } = await import("./web-helpers.js");
    const x = new RecordingBrowser(w.base, []);
    await x.get("/login");
    const a = await x.post("/login", { username: "alice", password: "wrong" });
    expect(a.status).toBe(401);
    expect(a.text).toContain("The username or password is wrong.");
    expect(x.cookies.has("airlock_session")).toBe(false);
  });

  it("sets an HttpOnly SameSite session cookie and the security headers", async () => {
    const { RecordingBrowser } = await import("./web-helpers.js");
    const x = new RecordingBrowser(w.base, []);
    await x.get("/login");
    const res = await fetch(`${w.base}/login?next=%2Freviews`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: x.cookieHeader() },
      body: `username=bob&password=pw-bob&csrf=${x.csrf}`,
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/reviews");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("airlock_session="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=(Lax|Strict)/);
    const page = await b.bob.get("/");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("cache-control")).toBe("no-store");
  });

  it("does not follow a `next` that leaves the site", async () => {
    const { RecordingBrowser } = await import("./web-helpers.js");
    const x = new RecordingBrowser(w.base, []);
    await x.get("/login");
    const a = await x.request("POST", "/login?next=%2F%2Fevil.example", { form: { username: "bob", password: "pw-bob", csrf: x.csrf! } });
    expect(a.location).toBe("/");
  });

  it("ends the session on logout", async () => {
    const x = await w.login("dave");
    expect((await x.get("/reviews")).status).toBe(200);
    expect((await x.post("/logout")).location).toBe("/login?done=logged-out");
    expect((await x.get("/reviews")).status).toBe(303);
  });
});

describe("pages and permissions", () => {
  it("lists the workspaces each person may see", async () => {
    expect((await b.alice.get("/")).text).toContain(`href="/workspaces/${WS}"`);
    expect((await b.alice.get("/")).text).not.toContain('href="/workspaces/other-ws"');
    expect((await b.bob.get("/")).text).toContain('href="/workspaces/other-ws"');
    expect((await b.eve.get("/")).text).not.toContain("href=\"/workspaces/");
    expect((await b.collab.get("/")).text).not.toContain("href=\"/workspaces/");
  });

  it("shows the workspace's level 4 files as a tree, with their status, to those with level 4 access only", async () => {
    for (const who of ["alice", "mallory", "bob"] as const) {
      const page = await b[who].get(`/workspaces/${WS}`);
      expect(page.status, who).toBe(200);
      expect(page.text).toContain("<summary>output/</summary>");
      expect(page.text).toContain("table.csv</a> — <span class=\"status\"><span aria-hidden=\"true\">·</span> not requested</span>");
    }
    for (const who of ["eve", "collab"] as const) {
      expect((await b[who].get(`/workspaces/${WS}`)).status, who).toBe(403);
      expect((await b[who].get(`/workspaces/${WS}/file?path=${encodeURIComponent(CSV)}`)).status, who).toBe(403);
      expect((await b[who].get(`/workspaces/${WS}/raw?path=${encodeURIComponent(CSV)}`)).status, who).toBe(403);
      expect((await b[who].get(`/workspaces/${WS}/log?action=analyse`)).status, who).toBe(403);
    }
    expect((await b.alice.get("/workspaces/other-ws")).status).toBe(403);
    expect((await b.alice.get("/workspaces/nope")).status).toBe(404);
  });

  it("offers the author, not a checker, to add a file; and refuses the others' posts", async () => {
    const page = await b.alice.get(`/workspaces/${WS}/file?path=${encodeURIComponent(CSV)}`);
    expect(page.text).toContain(`action="/workspaces/${WS}/add"`);
    expect((await b.bob.get(`/workspaces/${WS}/file?path=${encodeURIComponent(CSV)}`)).text).not.toContain(`action="/workspaces/${WS}/add"`);
    for (const who of ["bob", "eve", "collab"] as const) {
      expect((await b[who].post(`/workspaces/${WS}/add`, { path: CSV, group: "g", kind: "output" })).status, who).toBe(403);
    }
    expect((await b.alice.post(`/workspaces/${WS}/add`, { path: "../../etc/passwd", group: "g" })).status).toBe(422);
    expect((await b.alice.post(`/workspaces/${WS}/add`, { path: "output/missing.csv", group: "g" })).status).toBe(404);
  });

  it("walks a request through review: each page and form allowed or refused as the rules say", async () => {
    const add = await b.alice.post(`/workspaces/${WS}/add`, { path: CSV, group: "tables", kind: "output" });
    const id = requestOf(add);
    expect(add.location).toBe(`/requests/${id}?done=added`);
    // Pending: the author and the project's members see it; checkers not yet.
    expect((await b.alice.get(`/requests/${id}`)).status).toBe(200);
    expect((await b.mallory.get(`/requests/${id}`)).status).toBe(200);
    for (const who of ["bob", "eve", "collab"] as const) expect((await b[who].get(`/requests/${id}`)).status, who).toBe(403);
    expect((await b.alice.get(`/workspaces/${WS}`)).text).toContain("in your request");
    // Only the author edits; submitting needs the confirmation and the group's text.
    for (const who of ["mallory", "bob", "eve"] as const) expect((await b[who].post(`/requests/${id}/group`, { group: "tables", context: "x", controls: "y" })).status, who).toBe(403);
    expect((await b.alice.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(422);
    expect((await b.alice.post(`/requests/${id}/group`, { group: "tables", context: "counts by group", controls: "small counts suppressed" })).status).toBe(303);
    expect((await b.alice.post(`/requests/${id}/submit`, {})).status).toBe(422);
    expect((await b.mallory.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(403);
    const page = await b.alice.get(`/requests/${id}`);
    expect(page.text).toContain('<input type="checkbox" id="confirm" name="confirm" value="yes" required>');
    expect((await b.alice.post(`/requests/${id}/submit`, { confirm: "yes" })).location).toBe(`/requests/${id}?done=submitted`);

    // Submitted: checkers see it and vote; the author and others may not.
    expect((await b.bob.get(`/requests/${id}`)).status).toBe(200);
    expect((await b.bob.get("/reviews")).text).toContain(`href="/requests/${id}"`);
    for (const who of ["alice", "mallory", "eve", "collab"] as const) expect((await b[who].get("/reviews")).status, who).toBe(403);
    for (const who of ["alice", "mallory", "eve"] as const) expect((await b[who].post(`/requests/${id}/vote`, { path: CSV, vote: "approved" })).status, who).toBe(403);
    expect((await b.bob.post(`/requests/${id}/vote`, { path: CSV, vote: "maybe" })).status).toBe(400);
    expect((await b.bob.post(`/requests/${id}/vote`, { path: CSV, vote: "approved" })).status).toBe(303);
    // Public comments wait until both reviews are in; private ones are for checkers.
    expect((await b.bob.post(`/requests/${id}/comment`, { group: "tables", text: "looks fine", visibility: "public" })).status).toBe(422);
    expect((await b.bob.post(`/requests/${id}/comment`, { group: "tables", text: "bob's private note", visibility: "private" })).status).toBe(303);
    expect((await b.alice.post(`/requests/${id}/comment`, { group: "tables", text: "x", visibility: "private" })).status).toBe(403);
    expect((await b.bob.post(`/requests/${id}/review`)).status).toBe(303);
    expect((await b.bob.post(`/requests/${id}/review`)).status).toBe(422);
    // Blinding: carol does not see bob's vote or comment, nor does the author.
    const carolSees = (await b.carol.get(`/requests/${id}`)).text;
    expect(carolSees).not.toContain("bob&#39;s private note");
    expect(carolSees).not.toContain("bob: approve");
    expect((await b.alice.get(`/requests/${id}`)).text).not.toContain("bob&#39;s private note");
    expect((await b.bob.get(`/requests/${id}`)).text).toContain("bob&#39;s private note");
    await review(b.carol, id, "approved");
    expect((await b.carol.get(`/requests/${id}`)).text).toContain("bob: approve");
    // Reviewed: approving is for checkers who are not the author.
    for (const who of ["alice", "mallory", "eve"] as const) expect((await b[who].post(`/requests/${id}/approve`)).status, who).toBe(403);
    expect((await b.dave.post(`/requests/${id}/approve`)).location).toBe(`/requests/${id}?done=approved`);
    expect((await b.alice.get(`/requests/${id}`)).text).toContain("approved, uploading");
    expect((await b.alice.post(`/requests/${id}/withdraw`)).status).toBe(409);
    // Asking the uploader to try again is for output checkers who are not the author.
    for (const who of ["alice", "mallory", "eve"] as const) expect((await b[who].post(`/requests/${id}/retry-upload`)).status, who).toBe(403);
    expect((await b.bob.post(`/requests/${id}/retry-upload`)).location).toBe(`/requests/${id}?done=retry`);
  });

  it("lets the author withdraw their request, and nobody else", async () => {
    const id = requestOf(await b.mallory.post(`/workspaces/${WS}/add`, { path: "output/notes.txt", group: "notes", kind: "supporting" }));
    expect((await b.alice.post(`/requests/${id}/withdraw`)).status).toBe(403);
    expect((await b.bob.post(`/requests/${id}/withdraw`)).status).toBe(403);
    expect((await b.mallory.post(`/requests/${id}/withdraw`)).location).toBe(`/requests/${id}?done=request-withdrawn`);
  });

  it("answers 404 for a request that does not exist and 405 for a wrong method", async () => {
    expect((await b.alice.get("/requests/99999")).status).toBe(404);
    expect((await b.alice.get("/requests/abc")).status).toBe(404);
    expect((await b.alice.request("GET", "/requests/1/approve")).status).toBe(405);
  });
});

describe("CSRF", () => {
  let id: number;
  beforeAll(async () => {
    id = await submittedRequest("ws-csrf");
  });

  it("refuses a form without the session's token, and changes nothing", async () => {
    const before = (await b.bob.get(`/requests/${id}`)).text;
    const a = await b.bob.request("POST", `/requests/${id}/vote`, { form: { path: CSV, vote: "approved" } });
    expect(a.status).toBe(403);
    expect((await b.bob.get(`/requests/${id}`)).text.replace(/value="[A-Za-z0-9_-]{40,}"/g, "")).toBe(before.replace(/value="[A-Za-z0-9_-]{40,}"/g, ""));
  });

  it("refuses another session's token, a wrong token, and a cross-site post", async () => {
    expect((await b.bob.request("POST", `/requests/${id}/vote`, { form: { path: CSV, vote: "approved", csrf: b.carol.csrf! } })).status).toBe(403);
    expect((await b.bob.request("POST", `/requests/${id}/vote`, { form: { path: CSV, vote: "approved", csrf: "x".repeat(43) } })).status).toBe(403);
    expect((await b.bob.request("POST", `/requests/${id}/vote`, { form: { path: CSV, vote: "approved", csrf: b.bob.csrf! }, headers: { "sec-fetch-site": "cross-site" } })).status).toBe(403);
    expect((await b.bob.request("POST", `/requests/${id}/vote`, { form: { path: CSV, vote: "approved", csrf: b.bob.csrf! } })).status).toBe(303);
  });
});

describe("the viewer", () => {
  let id: number;
  beforeAll(async () => {
    id = await submittedRequest("ws-viewer");
  });

  it("shows the column summary and marks the cells the automated check failed", async () => {
    const page = (await b.bob.get(fileUrl(id))).text;
    expect(page).toContain("<h2 id=\"check-heading\">Automated disclosure check</h2>");
    const count = /<tr><th scope="row"><code>count<\/code><\/th>(.*?)<\/tr>/.exec(page)![1];
    expect(count).toBe("<td>integer</td><td>0</td><td>0</td><td>3</td><td>3</td><td>205</td><td>308</td><td>no</td><td>no</td>");
    // Row 1 (a, 3): the count cell is marked, with words for screen readers.
    expect(page).toMatch(/<tr( class="fail-row")?><th scope="row">1(<span[^>]*>[^<]*<\/span>)*<\/th><td>a<\/td><td class="fail"><span class="flag"[^>]*>⚑<\/span><span class="visually-hidden">\(the automated check flags this: [^<]+\)<\/span> 3<\/td>/);
    expect(page).toContain('class="table-wrap sticky"');
  });

  it("sorts and filters without JavaScript, through the query string", async () => {
    const order = (html: string) => [...html.matchAll(/<tr(?: class="fail-row")?><th scope="row">(\d+)/g)].map((m) => Number(m[1]));
    expect(order((await b.bob.get(fileUrl(id, CSV, "&sort=count&dir=desc"))).text)).toEqual([3, 2, 1]);
    expect(order((await b.bob.get(fileUrl(id, CSV, "&sort=group&dir=asc"))).text)).toEqual([1, 2, 3]);
    const filtered = (await b.bob.get(fileUrl(id, CSV, `&filter=${encodeURIComponent("group:b")}`))).text;
    expect(order(filtered)).toEqual([2]);
    expect(filtered).toContain("Showing 1 of 3 rows matching group containing “b”");
    expect(order((await b.bob.get(fileUrl(id, CSV, "&fcol=count&ftext=20"))).text)).toEqual([3]);
    const sorted = (await b.bob.get(fileUrl(id, CSV, "&sort=count&dir=asc"))).text;
    expect(sorted).toContain('aria-sort="ascending"');
    expect(sorted).toContain(`href="${fileUrl(id, CSV, "&sort=count&dir=desc").replace(/&/g, "&amp;")}"`);
  });

  it("shows text and logs as text, escaped, with the log's colours as classes", async () => {
    const log = (await b.alice.get(`/workspaces/${WS}/log?action=analyse&job=someone-else`)).text;
    expect(log).toContain('<span class="ansi-31">warning: &lt;b&gt;red&lt;/b&gt;</span>');
    expect(log).toContain("an earlier run");
    expect((await b.alice.get(`/workspaces/${WS}/log?action=..%2Fx`)).status).toBe(400);
    expect((await b.alice.get(`/workspaces/${WS}/log?action=missing`)).status).toBe(404);
  });

  it("serves images only through a sandboxed same-origin URL, never as markup in the page", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>';
    w.backend.write(WS, "output/plot.svg", svg);
    const page = (await b.alice.get(`/workspaces/${WS}/file?path=${encodeURIComponent("output/plot.svg")}`)).text;
    expect(page).toContain(`<img src="/workspaces/${WS}/raw?path=output%2Fplot.svg" alt="The figure output/plot.svg"`);
    expect(page).not.toContain("<svg");
    const raw = await b.alice.get(`/workspaces/${WS}/raw?path=${encodeURIComponent("output/plot.svg")}`);
    expect(raw.headers.get("content-type")).toBe("image/svg+xml");
    expect(raw.headers.get("content-security-policy")).toMatch(/^sandbox/);
    expect(raw.headers.get("content-disposition")).toMatch(/^inline/);
    expect(raw.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("shows an HTML report only in a sandboxed frame, and its source as text", async () => {
    w.backend.write(WS, "output/report.html", "<h1>Report</h1><script>parent.document.title='owned'</script>");
    const page = (await b.alice.get(`/workspaces/${WS}/file?path=${encodeURIComponent("output/report.html")}`)).text;
    expect(page).toContain(`<iframe sandbox src="/workspaces/${WS}/raw?path=output%2Freport.html"`);
    expect(page).not.toContain("<script>parent");
    expect(page).toContain("&lt;script&gt;parent.document.title=&#39;owned&#39;&lt;/script&gt;");
    const raw = await b.alice.get(`/workspaces/${WS}/raw?path=${encodeURIComponent("output/report.html")}`);
    expect(raw.headers.get("content-security-policy")).toMatch(/^sandbox; default-src 'none'/);
    expect(raw.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });

  it("shows a resubmitted file's changes since the version reviewed before, cell by cell", async () => {
    await review(b.bob, id, "changes_requested");
    await review(b.carol, id, "changes_requested");
    // Returning after both reviews needs a public comment on the group.
    expect((await b.bob.post(`/requests/${id}/return`)).status).toBe(422);
    expect((await b.bob.post(`/requests/${id}/comment`, { group: "tables", text: "please round the count of a", visibility: "public" })).status).toBe(303);
    expect((await b.bob.post(`/requests/${id}/return`)).location).toBe(`/requests/${id}?done=returned`);
    w.backend.write("ws-viewer", CSV, TABLE_V2);
    expect((await b.alice.get("/workspaces/ws-viewer")).text).toContain("updated since added to your request");
    expect((await b.alice.post(`/requests/${id}/file/update`, { path: CSV })).status).toBe(303);
    expect((await b.alice.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(422);
    expect((await b.alice.post(`/requests/${id}/comment`, { group: "tables", text: "rounded now", visibility: "public" })).status).toBe(303);
    expect((await b.alice.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(303);
    const page = (await b.bob.get(fileUrl(id))).text;
    expect(page).toContain("Changes since the version reviewed before");
    expect(page).toContain("1 row(s) changed, 0 added, 0 removed; 2 unchanged.");
    expect(page).toContain('<td class="changed"><del><span class="visually-hidden">was </span>3</del> <ins><span class="visually-hidden">now </span>10</ins></td>');
    // The version reviewed before is still there to look at.
    expect((await b.bob.get(rawUrl(id, CSV, "&version=before"))).text).toBe(TABLE_V1);
    expect((await b.eve.get(rawUrl(id, CSV, "&version=before"))).status).toBe(403);
  });
});

describe("downloads", () => {
  let id: number;
  beforeAll(async () => {
    w.backend.write(WS, "output/other.csv", "group,count\na,100\n");
    const add = await b.mallory.post(`/workspaces/${WS}/add`, { path: "output/other.csv", group: "tables", kind: "output" });
    id = requestOf(add);
    await b.mallory.post(`/requests/${id}/group`, { group: "tables", context: "c", controls: "c" });
    expect((await b.mallory.post(`/requests/${id}/submit`, { confirm: "yes" })).status).toBe(303);
  });

  it("refuses the author and anyone who is not an output checker", async () => {
    for (const who of ["mallory", "alice", "eve", "collab"] as const) expect((await b[who].get(rawUrl(id, "output/other.csv", "&download=1"))).status, who).toBe(403);
    expect((await b.mallory.get(fileUrl(id, "output/other.csv"))).text).toContain("only for output checkers who are not the author");
  });

  it("gives output checkers who are not the author an attachment", async () => {
    const page = (await b.bob.get(fileUrl(id, "output/other.csv"))).text;
    expect(page).toContain(`href="${rawUrl(id, "output/other.csv", "&download=1").replace(/&/g, "&amp;")}"`);
    const a = await b.bob.get(rawUrl(id, "output/other.csv", "&download=1"));
    expect(a.status).toBe(200);
    expect(a.headers.get("content-disposition")).toMatch(/^attachment; filename="other.csv"/);
    expect(a.text).toBe("group,count\na,100\n");
    // Looking (inline) is for everyone who may see the request.
    expect((await b.mallory.get(rawUrl(id, "output/other.csv"))).headers.get("content-disposition")).toMatch(/^inline/);
  });
});

describe("the code at the job's commit", () => {
  it("lists the commit's files from the agent's mirror, and shows one", async () => {
    const { repo, commit } = studyRepo(fs.mkdtempSync(path.join(tmp, "study-")));
    const mirror = mirrorPath(w.backend.backendDir, repo);
    fs.mkdirSync(path.dirname(mirror), { recursive: true });
    const clone = spawnSync("git", ["clone", "-q", "--bare", repo, mirror], { encoding: "utf8" });
    expect(clone.status, clone.stderr).toBe(0);
    w.backend.write(WS, "output/coded.csv", "a,b\n1,2\n", { repo, commit });
    const file = (await b.alice.get(`/workspaces/${WS}/file?path=${encodeURIComponent("output/coded.csv")}`)).text;
    expect(file).toContain(`/workspaces/${WS}/code?commit=${commit}`);
    const list = await b.bob.get(`/workspaces/${WS}/code?commit=${commit}`);
    expect(list.status).toBe(200);
    expect(list.text).toContain("analysis/report.js");
    const one = await b.bob.get(`/workspaces/${WS}/code?commit=${commit}&path=${encodeURIComponent("analysis/report.js")}`);
    expect(one.text).toContain("console.log(&#39;report&#39;);");
    expect((await b.eve.get(`/workspaces/${WS}/code?commit=${commit}`)).status).toBe(403);
    expect((await b.bob.get(`/workspaces/${WS}/code?commit=${commit}&path=..%2Fsecret`)).status).toBe(422);
    expect((await b.bob.get(`/workspaces/${WS}/code?commit=${"0".repeat(40)}`)).status).toBe(404);
    expect((await b.bob.get(`/workspaces/${WS}/code?commit=--help`)).status).toBe(422);
  });
});

describe("the access re-check", () => {
  it("takes a revoked role into account once the access is 15 minutes old, not before", async () => {
    const x = await w.login("dave");
    expect((await x.get("/reviews")).status).toBe(200);
    w.fake.users.get("dave")!.globalRoles = [];
    w.advance(14 * 60 * 1000);
    expect((await x.get("/reviews")).status).toBe(200);
    w.advance(60 * 1000);
    expect((await x.get("/reviews")).status).toBe(403);
    w.fake.users.get("dave")!.globalRoles = ["OutputChecker"];
    w.advance(15 * 60 * 1000);
    expect((await x.get("/reviews")).status).toBe(200);
  });

  it("refuses to serve on old access when the job server cannot be asked, and ends the session of a deleted user", async () => {
    const x = await w.login("carol");
    w.advance(15 * 60 * 1000);
    w.fake.failWith = 503;
    try {
      expect((await x.get("/reviews")).status).toBe(503);
    } finally {
      w.fake.failWith = undefined;
    }
    expect((await x.get("/reviews")).status).toBe(200);
    const y = await w.login("eve");
    w.fake.users.delete("eve");
    w.advance(15 * 60 * 1000);
    expect((await y.get("/")).location).toBe("/login?next=%2F");
    w.fake.addUser("eve");
    // Everyone else's sessions were re-checked too, so log the cast in again.
    for (const who of Object.keys(b) as (keyof typeof b)[]) b[who] = await w.login(who);
  });
});

describe("accessibility", () => {
  it("keeps the rules on every page the tests saw", () => {
    expect(w.pages.length).toBeGreaterThan(30);
    const problems = w.pages.flatMap((p) => accessibilityProblems(p.text).map((x) => `${p.url}: ${x}`));
    expect([...new Set(problems)]).toEqual([]);
  });
});
