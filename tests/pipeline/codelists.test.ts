// Codelists: codelists.txt, `update` against a local OpenCodelists-like
// server, codelists.json and its hashes (opensafely-cli's, checked against a
// hash computed by hand), `check` and every problem it reports, and the
// `enclave codelists` command end to end.

import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CodelistsError,
  type Manifest,
  addCodelist,
  checkCodelists,
  codelistHash,
  parseCodelistsTxt,
  readCodelistsTxt,
  updateCodelists,
  writeCodelistsJson,
} from "../../src/pipeline/codelists.js";
import { enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

// What the server holds: path after /codelist/ → [content type, body].
const ASTHMA_V1 = "code,term\n195967001,Asthma\n";
const ASTHMA_V2 = "code,term\n195967001,Asthma\n389145006,Allergic asthma\n";
const COPD = "code,term\r\n1234,Asthma\r\n"; // \r\n endings, as some servers send
const SERVED: Record<string, [string, string]> = {
  "opensafely/asthma/v1": ["text/csv", ASTHMA_V1],
  "opensafely/asthma/v2": ["text/csv", ASTHMA_V2],
  "user/alice/copd/abc123": ["text/csv; charset=utf-8", COPD],
  "opensafely/html-page/v1": ["text/html", "<html><body>Welcome</body></html>"],
  "opensafely/drafty/v1": ["text/html", "<html><body>This version is a draft</body></html>"],
};

let server: http.Server;
let base: string;
const requests: string[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const m = /^\/codelist\/(.+)\/download\.csv$/.exec(req.url ?? "");
    const found = m === null ? undefined : SERVED[m[1]!];
    if (found === undefined) {
      res.writeHead(404, { "content-type": "text/html" }).end("<h1>Not Found</h1>");
      return;
    }
    res.writeHead(200, { "content-type": found[0] }).end(found[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  removeStudies();
});

/** A fresh project folder holding `files` (path → text). */
function project(files: Record<string, string> = {}): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "enclave-codelists-")));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Every file under dir, path → bytes (to prove that nothing changed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p, "latin1");
    }
  };
  walk(dir);
  return out;
}

function read(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), "utf8");
}

function manifest(dir: string): Manifest {
  return JSON.parse(read(dir, "codelists/codelists.json")) as Manifest;
}

async function failure(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CodelistsError) return [...e.lines];
    throw e;
  }
  throw new Error("expected a CodelistsError");
}

const TXT = "# exposures\nopensafely/asthma/v1\n\n  user/alice/copd/abc123  \n";

describe("codelistHash", () => {
  it("is opensafely-cli's: SHA-1 of the lines joined with \\n, computed here by hand", () => {
    // sha1("code,term\n1234,Asthma"), from Python: hashlib.sha1(b"\n".join(content.splitlines())).hexdigest()
    expect(codelistHash(COPD)).toBe("7fd2f098d36618f714b38abbabdd8720ddd1aca2");
    expect(codelistHash(Buffer.from("code,term\n1234,Asthma"))).toBe("7fd2f098d36618f714b38abbabdd8720ddd1aca2");
    expect(codelistHash("code,term\r1234,Asthma\r")).toBe("7fd2f098d36618f714b38abbabdd8720ddd1aca2");
    expect(codelistHash("foo")).toBe("0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33");
  });

  it("drops only one final line ending, as Python's splitlines does", () => {
    expect(codelistHash("")).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(codelistHash("\n")).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(codelistHash("a\n")).toBe("86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"); // sha1("a")
    expect(codelistHash("a\n\n")).toBe("3f786850e387550fdab836ed7e6dc881de23001b"); // sha1("a\n")
  });

  it("hashes bytes, not decoded text", () => {
    const latin1 = Buffer.from([0x63, 0xe9, 0x0d, 0x0a]); // "cé\r\n" in Latin-1: not valid UTF-8
    expect(codelistHash(latin1)).toBe(codelistHash(Buffer.from([0x63, 0xe9])));
    expect(codelistHash(latin1)).not.toBe(codelistHash(Buffer.from([0x63, 0xef, 0xbf, 0xbd])));
  });
});

describe("codelists.txt", () => {
  it("skips blank lines and comments, trims, and allows a trailing /", () => {
    const { codelists, problems } = parseCodelistsTxt("\uFEFF# a comment\r\n\r\nopensafely/asthma/v1/\r\n   \r\n  user/alice/copd/abc123 \r\n");
    expect(problems).toEqual([]);
    expect(codelists).toEqual([
      { id: "opensafely/asthma/v1", codelist: "opensafely/asthma", version: "v1", file: "opensafely-asthma.csv", line: 3 },
      { id: "user/alice/copd/abc123", codelist: "user/alice/copd", version: "abc123", file: "user-alice-copd.csv", line: 5 },
    ]);
  });

  it("names the line of every malformed id, all at once", () => {
    const { codelists, problems } = parseCodelistsTxt(
      ["opensafely/asthma", "opensafely/asthma/v1", "a/b/c/d", "opensafely//v1", "opensafely/asthma v2/v1", "x/y/z/w/v", "opensafely/../v1", "opensafely/asthma/v1 # mine"].join("\n"),
    );
    expect(codelists.map((c) => c.id)).toEqual(["opensafely/asthma/v1"]);
    expect(problems).toHaveLength(7);
    expect(problems[0]).toMatch(/^codelists\/codelists\.txt, line 1: "opensafely\/asthma" is not a codelist id: write project\/codelist\/version or user\/name\/codelist\/version/);
    expect(problems[1]).toMatch(/^codelists\/codelists\.txt, line 3: .*four parts is a user's codelist/);
    expect(problems[2]).toMatch(/^codelists\/codelists\.txt, line 4: .*empty part/);
    expect(problems[3]).toMatch(/^codelists\/codelists\.txt, line 5: .*"asthma v2"/);
    expect(problems[4]).toMatch(/^codelists\/codelists\.txt, line 6: .*5 parts/);
    expect(problems[5]).toMatch(/^codelists\/codelists\.txt, line 7: .*"\.\."/);
    expect(problems[6]).toMatch(/^codelists\/codelists\.txt, line 8: /);
  });

  it("refuses duplicates, other versions of the same codelist, and two codelists with one file name", () => {
    const { problems } = parseCodelistsTxt(
      ["opensafely/asthma/v1", "opensafely/copd/v1", "opensafely/asthma/v1", "opensafely/asthma/v2", "a-b/c/v1", "a/b-c/v1", "user/bob/asthma/v1"].join("\n"),
    );
    expect(problems).toEqual([
      "codelists/codelists.txt, line 3: opensafely/asthma/v1 is given twice (first on line 1); remove one",
      "codelists/codelists.txt, line 4: opensafely/asthma/v2 is another version of opensafely/asthma/v1 (line 1); a study uses one version of a codelist: keep one",
      "codelists/codelists.txt, line 6: a/b-c/v1 would be downloaded to codelists/a-b-c.csv, as a-b/c/v1 (line 5) is; they cannot both be used",
    ]);
  });

  it("readCodelistsTxt throws every problem, or that the file is missing", () => {
    expect(() => readCodelistsTxt(project())).toThrow(/there is no codelists\/codelists\.txt/);
    const dir = project({ "codelists/codelists.txt": "opensafely/asthma/v1\nbad\nopensafely/asthma/v2\n" });
    try {
      readCodelistsTxt(dir);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CodelistsError);
      expect((e as CodelistsError).lines.map((l) => l.slice(0, 32))).toEqual(["codelists/codelists.txt, line 2:", "codelists/codelists.txt, line 3:"]);
    }
    expect(readCodelistsTxt(project({ "codelists/codelists.txt": TXT })).map((c) => c.line)).toEqual([2, 4]);
  });
});

describe("update", () => {
  it("downloads each codelist as it is served, writes codelists.json, and then checks", async () => {
    const dir = project({ "codelists/codelists.txt": TXT });
    const now = new Date("2024-03-01T12:00:00.000Z");
    const progress: string[] = [];
    const result = await updateCodelists(dir, { url: `${base}/`, now, onProgress: (m) => progress.push(m) });
    expect(result.codelists.map((c) => c.id)).toEqual(["opensafely/asthma/v1", "user/alice/copd/abc123"]);
    expect(progress).toEqual(["downloading opensafely/asthma/v1", "downloading user/alice/copd/abc123"]);
    expect(requests).toContain("/codelist/opensafely/asthma/v1/download.csv");
    expect(requests).toContain("/codelist/user/alice/copd/abc123/download.csv");
    // Byte for byte: the \r\n endings are kept, and the hash ignores them.
    expect(read(dir, "codelists/opensafely-asthma.csv")).toBe(ASTHMA_V1);
    expect(read(dir, "codelists/user-alice-copd.csv")).toBe(COPD);
    const json = read(dir, "codelists/codelists.json");
    expect(json).toBe(
      JSON.stringify(
        {
          files: {
            "opensafely-asthma.csv": { id: "opensafely/asthma/v1", url: `${base}/codelist/opensafely/asthma/v1/`, downloaded_at: "2024-03-01T12:00:00.000Z", sha: codelistHash(ASTHMA_V1) },
            "user-alice-copd.csv": { id: "user/alice/copd/abc123", url: `${base}/codelist/user/alice/copd/abc123/`, downloaded_at: "2024-03-01T12:00:00.000Z", sha: "7fd2f098d36618f714b38abbabdd8720ddd1aca2" },
          },
        },
        null,
        2,
      ),
    );
    expect(json.endsWith("}")).toBe(true); // no final newline, as opensafely-cli writes it
    expect(checkCodelists(dir)).toEqual({ ok: true, problems: [], count: 2 });

    // Again, nothing changed: the dates are kept, so the file is the same.
    await updateCodelists(dir, { url: base, now: new Date("2025-01-01T00:00:00.000Z") });
    expect(read(dir, "codelists/codelists.json")).toBe(json);
  });

  it("replaces a codelist whose version changed, deletes stale CSV files and leaves every other file", async () => {
    const dir = project({
      "codelists/codelists.txt": TXT,
      "codelists/README.md": "my notes",
      "codelists/notes.txt": "more notes",
      "codelists/old-codelist.csv": "code\n1\n",
      "codelists/sub/keep.csv": "code\n2\n",
    });
    await updateCodelists(dir, { url: base });
    const first = manifest(dir).files["opensafely-asthma.csv"]!;
    fs.writeFileSync(path.join(dir, "codelists/codelists.txt"), "opensafely/asthma/v2\n");
    const progress: string[] = [];
    const result = await updateCodelists(dir, { url: base, onProgress: (m) => progress.push(m), now: new Date("2030-01-01T00:00:00Z") });
    expect(result.deleted).toEqual(["user-alice-copd.csv"]);
    expect(progress).toContain("deleted codelists/user-alice-copd.csv: no codelist in codelists/codelists.txt is downloaded to it");
    expect(fs.readdirSync(path.join(dir, "codelists")).sort()).toEqual(["README.md", "codelists.json", "codelists.txt", "notes.txt", "opensafely-asthma.csv", "sub"]);
    expect(read(dir, "codelists/sub/keep.csv")).toBe("code\n2\n");
    expect(read(dir, "codelists/opensafely-asthma.csv")).toBe(ASTHMA_V2);
    const entry = manifest(dir).files["opensafely-asthma.csv"]!;
    expect(entry.id).toBe("opensafely/asthma/v2");
    expect(entry.sha).not.toBe(first.sha);
    expect(entry.downloaded_at).toBe("2030-01-01T00:00:00.000Z");
    expect(Object.keys(manifest(dir).files)).toEqual(["opensafely-asthma.csv"]);
    expect(checkCodelists(dir).ok).toBe(true);
  });

  it("names an id the server does not have (404), and writes nothing", async () => {
    const dir = project({ "codelists/codelists.txt": "opensafely/asthma/v1\nopensafely/no-such-thing/v9\n" });
    await updateCodelists(dir, { url: base }).catch(() => undefined);
    const before = snapshot(dir);
    const lines = await failure(updateCodelists(dir, { url: base }));
    expect(lines[0]).toBe(`opensafely/no-such-thing/v9 was not found at ${base} (404 from ${base}/codelist/opensafely/no-such-thing/v9/download.csv): check the id and version on OpenCodelists`);
    expect(lines.at(-1)).toBe("nothing was written: the files in codelists/ are as they were");
    expect(snapshot(dir)).toEqual(before);
    expect(fs.existsSync(path.join(dir, "codelists/opensafely-asthma.csv"))).toBe(false);
  });

  it("reports every failure, and refuses a page that is not CSV, and a draft", async () => {
    const dir = project({ "codelists/codelists.txt": "opensafely/html-page/v1\nopensafely/drafty/v1\nopensafely/gone/v1\n" });
    const lines = await failure(updateCodelists(dir, { url: base }));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^opensafely\/html-page\/v1: .* did not answer with a CSV file \(its content type is text\/html\); is http:\/\/127\.0\.0\.1:\d+ an OpenCodelists server\?$/);
    expect(lines[1]).toMatch(/^opensafely\/drafty\/v1 is a draft codelist/);
    expect(lines[2]).toMatch(/^opensafely\/gone\/v1 was not found/);
    expect(snapshot(dir)).toEqual({ "codelists/codelists.txt": "opensafely/html-page/v1\nopensafely/drafty/v1\nopensafely/gone/v1\n" });
  });

  it("leaves every file untouched when the server cannot be reached", async () => {
    const dir = project({ "codelists/codelists.txt": TXT });
    await updateCodelists(dir, { url: base });
    fs.writeFileSync(path.join(dir, "codelists/codelists.txt"), `${TXT}opensafely/asthma-two/v1\n`);
    fs.writeFileSync(path.join(dir, "codelists/stale.csv"), "code\n");
    const before = snapshot(dir);

    // A port with nothing listening on it.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const lines = await failure(updateCodelists(dir, { url: `http://127.0.0.1:${port}` }));
    expect(lines[0]).toMatch(/^cannot download opensafely\/asthma\/v1: the server refused the connection/);
    expect(snapshot(dir)).toEqual(before);

    // A fetch that fails part way through the list.
    let calls = 0;
    const flaky = async (url: string): Promise<Response> => {
      if (++calls === 2) throw new TypeError("fetch failed", { cause: { code: "ECONNRESET", message: "socket hang up" } });
      return fetch(url);
    };
    const lines2 = await failure(updateCodelists(dir, { url: base, fetch: flaky }));
    expect(lines2.join("\n")).toMatch(/the server could not be reached: socket hang up/);
    expect(snapshot(dir)).toEqual(before);

    // A server that never answers.
    const hang = (_url: string, init?: RequestInit): Promise<Response> =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)));
    const lines3 = await failure(updateCodelists(dir, { url: base, fetch: hang, timeoutMs: 50 }));
    expect(lines3[0]).toMatch(/the server did not answer in time/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("uses the fetch it is given", async () => {
    const dir = project({ "codelists/codelists.txt": "org/list/2024-01-01\n" });
    const asked: string[] = [];
    const fake = async (url: string): Promise<Response> => {
      asked.push(url);
      return new Response("code\nA01\n", { headers: { "content-type": "text/csv" } });
    };
    await updateCodelists(dir, { url: "https://codelists.example.org/base/", fetch: fake });
    expect(asked).toEqual(["https://codelists.example.org/base/codelist/org/list/2024-01-01/download.csv"]);
    expect(manifest(dir).files["org-list.csv"]!.url).toBe("https://codelists.example.org/base/codelist/org/list/2024-01-01/");
  });

  it("refuses a bad server address, a missing codelists.txt and a malformed one", async () => {
    const dir = project({ "codelists/codelists.txt": TXT });
    expect(await failure(updateCodelists(dir, { url: "not a url" }))).toEqual([`the OpenCodelists address "not a url" is not a URL (like https://www.opencodelists.org)`]);
    expect(await failure(updateCodelists(dir, { url: "ftp://x.org" }))).toEqual(["the OpenCodelists address ftp://x.org must start with https:// or http://"]);
    expect((await failure(updateCodelists(project(), { url: base })))[0]).toMatch(/^there is no codelists\/codelists\.txt: add a codelist with `enclave codelists add ID`/);
    const bad = project({ "codelists/codelists.txt": "oops\n" });
    expect((await failure(updateCodelists(bad, { url: base })))[0]).toMatch(/^codelists\/codelists\.txt, line 1: "oops" is not a codelist id/);
  });
});

describe("add", () => {
  it("creates codelists/ and codelists.txt, and downloads just that codelist", async () => {
    const dir = project();
    const added = await addCodelist(dir, "opensafely/asthma/v1", { url: base });
    expect(added).toMatchObject({ id: "opensafely/asthma/v1", file: "opensafely-asthma.csv", line: 1 });
    expect(read(dir, "codelists/codelists.txt")).toBe("opensafely/asthma/v1\n");
    expect(read(dir, "codelists/opensafely-asthma.csv")).toBe(ASTHMA_V1);
    expect(Object.keys(manifest(dir).files)).toEqual(["opensafely-asthma.csv"]);
    expect(checkCodelists(dir)).toEqual({ ok: true, problems: [], count: 1 });
  });

  it("appends to codelists.txt (adding a missing final newline), keeps the other entries, and takes an address", async () => {
    const dir = project({ "codelists/codelists.txt": "# mine\nopensafely/asthma/v1" });
    await updateCodelists(dir, { url: base });
    const before = manifest(dir).files["opensafely-asthma.csv"];
    fs.writeFileSync(path.join(dir, "codelists/unrelated.csv"), "x\n"); // add deletes nothing
    const added = await addCodelist(dir, `${base}/codelist/user/alice/copd/abc123/#full-list`, { url: base });
    expect(added.line).toBe(3);
    expect(read(dir, "codelists/codelists.txt")).toBe("# mine\nopensafely/asthma/v1\nuser/alice/copd/abc123\n");
    expect(manifest(dir).files["opensafely-asthma.csv"]).toEqual(before);
    expect(manifest(dir).files["user-alice-copd.csv"]!.sha).toBe("7fd2f098d36618f714b38abbabdd8720ddd1aca2");
    expect(fs.existsSync(path.join(dir, "codelists/unrelated.csv"))).toBe(true);
    fs.rmSync(path.join(dir, "codelists/unrelated.csv"));
    expect(checkCodelists(dir).ok).toBe(true);
  });

  it("keeps the \\r\\n line endings of a codelists.txt written on Windows", async () => {
    const dir = project({ "codelists/codelists.txt": "# mine\r\nopensafely/asthma/v1" });
    const added = await addCodelist(dir, "user/alice/copd/abc123", { url: base });
    expect(added.line).toBe(3);
    expect(read(dir, "codelists/codelists.txt")).toBe("# mine\r\nopensafely/asthma/v1\r\nuser/alice/copd/abc123\r\n");
  });

  it("refuses a malformed id, one already there, another version, and one the server lacks, writing nothing", async () => {
    const dir = project({ "codelists/codelists.txt": "opensafely/asthma/v1\n" });
    await updateCodelists(dir, { url: base });
    const before = snapshot(dir);
    expect(await failure(addCodelist(dir, "opensafely/asthma", { url: base }))).toEqual([
      `"opensafely/asthma" is not a codelist id: write project/codelist/version or user/name/codelist/version (it has 2 parts)`,
    ]);
    expect(await failure(addCodelist(dir, "opensafely/asthma/v1", { url: base }))).toEqual([
      "opensafely/asthma/v1 is already in codelists/codelists.txt (line 1); `enclave codelists update` downloads it again",
    ]);
    expect((await failure(addCodelist(dir, "opensafely/asthma/v2", { url: base })))[0]).toMatch(
      /^codelists\/codelists\.txt, line 1 has another version of this codelist, opensafely\/asthma\/v1; .* change that line to opensafely\/asthma\/v2/,
    );
    expect((await failure(addCodelist(dir, "opensafely/missing/v1", { url: base })))[0]).toMatch(/^opensafely\/missing\/v1 was not found at/);
    expect(snapshot(dir)).toEqual(before);
    const empty = project();
    await failure(addCodelist(empty, "opensafely/missing/v1", { url: base }));
    expect(fs.existsSync(path.join(empty, "codelists"))).toBe(false);
  });
});

describe("check", () => {
  async function downloaded(): Promise<string> {
    const dir = project({ "codelists/codelists.txt": TXT });
    await updateCodelists(dir, { url: base });
    return dir;
  }

  it("has nothing to check without codelists/ or codelists.txt", () => {
    expect(checkCodelists(project())).toEqual({ ok: true, problems: [], count: 0, nothing: "there is no codelists/ folder" });
    expect(checkCodelists(project({ "codelists/mine.csv": "code\n1\n" }))).toEqual({ ok: true, problems: [], count: 0, nothing: "there is no codelists/codelists.txt" });
    // An empty list, as a new study has, is fine too.
    expect(checkCodelists(project({ "codelists/codelists.txt": "# none yet\n" }))).toEqual({ ok: true, problems: [], count: 0 });
  });

  it("passes when git has rewritten the line endings", async () => {
    const dir = await downloaded();
    for (const f of ["opensafely-asthma.csv", "user-alice-copd.csv"]) {
      const file = path.join(dir, "codelists", f);
      const text = fs.readFileSync(file, "utf8");
      fs.writeFileSync(file, text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text.replace(/\n/g, "\r\n"));
    }
    expect(checkCodelists(dir).ok).toBe(true);
  });

  it("reports every kind of problem, all at once, with the hint", async () => {
    const dir = await downloaded();
    // An id not downloaded; the copd line removed (so its json entry is extra);
    // a CSV edited by hand; an extra CSV.
    fs.writeFileSync(path.join(dir, "codelists/codelists.txt"), "opensafely/asthma/v1\nopensafely/new-one/v1\n");
    fs.appendFileSync(path.join(dir, "codelists/opensafely-asthma.csv"), "999,My own code\n");
    fs.writeFileSync(path.join(dir, "codelists/extra.csv"), "code\n1\n");
    const result = checkCodelists(dir);
    expect(result.ok).toBe(false);
    expect(result.count).toBe(2);
    expect(result.hint).toBe("run `enclave codelists update` to download the codelists again and rewrite codelists/codelists.json");
    expect(result.problems).toEqual([
      "codelists/codelists.txt, line 2: opensafely/new-one/v1 is not in codelists/codelists.json: it has not been downloaded",
      "codelists/codelists.json has user/alice/copd/abc123 (user-alice-copd.csv), which is not in codelists/codelists.txt",
      "codelists/opensafely-asthma.csv has been changed since it was downloaded (its hash is not the one in codelists/codelists.json)",
      "codelists/extra.csv is not in codelists/codelists.json: it is not a downloaded codelist",
    ]);
  });

  it("reports a missing CSV", async () => {
    const dir = await downloaded();
    fs.rmSync(path.join(dir, "codelists/user-alice-copd.csv"));
    expect(checkCodelists(dir).problems).toEqual(["codelists/user-alice-copd.csv is missing (the download of user/alice/copd/abc123)"]);
  });

  it("reports a codelist recorded under another file name", async () => {
    const dir = await downloaded();
    const m = manifest(dir);
    m.files["renamed.csv"] = m.files["opensafely-asthma.csv"]!;
    delete m.files["opensafely-asthma.csv"];
    fs.renameSync(path.join(dir, "codelists/opensafely-asthma.csv"), path.join(dir, "codelists/renamed.csv"));
    fs.writeFileSync(path.join(dir, "codelists/codelists.json"), JSON.stringify(m));
    expect(checkCodelists(dir).problems).toEqual(["codelists/codelists.json records opensafely/asthma/v1 as renamed.csv, not opensafely-asthma.csv"]);
  });

  it("reports a missing, invalid or unsafe codelists.json", async () => {
    const dir = await downloaded();
    const json = read(dir, "codelists/codelists.json");
    fs.rmSync(path.join(dir, "codelists/codelists.json"));
    expect(checkCodelists(dir).problems).toEqual(["codelists/codelists.json is missing: the codelists have not been downloaded"]);
    fs.writeFileSync(path.join(dir, "codelists/codelists.json"), "blah");
    expect(checkCodelists(dir).problems).toEqual(["codelists/codelists.json is not valid JSON; it is written by `enclave codelists update` and is not edited by hand"]);
    fs.writeFileSync(path.join(dir, "codelists/codelists.json"), JSON.stringify({ files: { "../../etc/passwd.csv": { id: "a/b/c", sha: "x" } } }));
    expect(checkCodelists(dir).problems[0]).toMatch(/has "\.\.\/\.\.\/etc\/passwd\.csv", which is not the name of a CSV file in codelists\//);
    fs.writeFileSync(path.join(dir, "codelists/codelists.json"), json);
    fs.rmSync(path.join(dir, "codelists/codelists.txt"));
    const noTxt = checkCodelists(dir);
    expect(noTxt.ok).toBe(false);
    expect(noTxt.problems).toEqual(["codelists/codelists.json records downloaded codelists but there is no codelists/codelists.txt, the list of the study's codelists"]);
  });

  it("reports the lines of a malformed codelists.txt, and only those", async () => {
    const dir = await downloaded();
    fs.writeFileSync(path.join(dir, "codelists/codelists.txt"), "opensafely/asthma/v1\nopensafely/asthma/v2\nnot-an-id\n");
    const result = checkCodelists(dir);
    expect(result.problems.map((p) => p.slice(0, 32))).toEqual(["codelists/codelists.txt, line 2:", "codelists/codelists.txt, line 3:"]);
    expect(result.hint).toBe("fix codelists/codelists.txt, then run `enclave codelists update`");
  });

  it("reads a manifest from before opensafely-cli recorded ids", () => {
    // As in opensafely-cli's own test fixture: url, downloaded_at and sha only.
    const dir = project({
      "codelists/codelists.txt": "opensafely/current-asthma/2020-05-06\n",
      "codelists/opensafely-current-asthma.csv": COPD,
      "codelists/codelists.json": JSON.stringify({
        files: {
          "opensafely-current-asthma.csv": {
            url: "https://codelists.opensafely.org/codelist/opensafely/current-asthma/2020-05-06/",
            downloaded_at: "2020-12-18 16:53:23.649007Z",
            sha: "7fd2f098d36618f714b38abbabdd8720ddd1aca2",
          },
        },
      }),
    });
    expect(checkCodelists(dir)).toEqual({ ok: true, problems: [], count: 1 });
  });

  it("writeCodelistsJson records the CSV files there (for enclave init)", () => {
    const dir = project({ "codelists/codelists.txt": "user/enclave-example/asthma/2024-01-01\n", "codelists/user-enclave-example-asthma.csv": COPD });
    writeCodelistsJson(dir, new Date("2024-01-01T00:00:00Z"));
    expect(manifest(dir).files["user-enclave-example-asthma.csv"]).toEqual({
      id: "user/enclave-example/asthma/2024-01-01",
      url: "https://www.opencodelists.org/codelist/user/enclave-example/asthma/2024-01-01/",
      downloaded_at: "2024-01-01T00:00:00.000Z",
      sha: "7fd2f098d36618f714b38abbabdd8720ddd1aca2",
    });
    expect(checkCodelists(dir).ok).toBe(true);
    fs.rmSync(path.join(dir, "codelists/user-enclave-example-asthma.csv"));
    expect(() => writeCodelistsJson(dir)).toThrow(/codelists\/user-enclave-example-asthma\.csv is missing/);
  });
});

describe("enclave codelists", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("update --url, then check; a changed file fails check with every problem and the hint", async () => {
    const dir = study({ "codelists/codelists.txt": TXT, "codelists/old.csv": "code\n" });
    const update = await enclave(["codelists", "update", "--url", base], { cwd: dir });
    expect(update.stderr).toBe("downloading opensafely/asthma/v1\ndownloading user/alice/copd/abc123\ndeleted codelists/old.csv: no codelist in codelists/codelists.txt is downloaded to it\n");
    expect(update.stdout).toBe("codelists updated: 2 codelists in codelists/; deleted 1 stale file\n");
    expect(update.code).toBe(0);

    const ok = await enclave(["codelists", "check"], { cwd: dir });
    expect(ok).toEqual({ code: 0, stdout: "codelists OK: 2 codelists\n", stderr: "" });

    fs.appendFileSync(path.join(dir, "codelists/user-alice-copd.csv"), "5678,Other\r\n");
    fs.writeFileSync(path.join(dir, "codelists/extra.csv"), "code\n");
    const bad = await enclave(["codelists", "check"], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toBe(
      "error: codelists/user-alice-copd.csv has been changed since it was downloaded (its hash is not the one in codelists/codelists.json)\n" +
        "error: codelists/extra.csv is not in codelists/codelists.json: it is not a downloaded codelist\n" +
        "error: 2 problems with the codelists: run `enclave codelists update` to download the codelists again and rewrite codelists/codelists.json\n",
    );
  });

  it("add takes the server from ENCLAVE_OPENCODELISTS_URL; a 404 is an error that names the id", async () => {
    const dir = study({});
    const add = await enclave(["codelists", "add", "opensafely/asthma/v1"], { cwd: dir, env: { ENCLAVE_OPENCODELISTS_URL: base } });
    expect(add.stdout).toBe("added opensafely/asthma/v1 to codelists/codelists.txt (line 1) and downloaded it to codelists/opensafely-asthma.csv\n");
    expect(add.code).toBe(0);
    expect(manifest(dir).files["opensafely-asthma.csv"]!.url).toBe(`${base}/codelist/opensafely/asthma/v1/`);

    const missing = await enclave(["codelists", "add", "opensafely/nope/v1", "--url", base], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: opensafely/nope/v1 was not found at ${base} (404 from`);
    expect(missing.stderr).toContain("error: nothing was written: the files in codelists/ are as they were\n");
    expect(read(dir, "codelists/codelists.txt")).toBe("opensafely/asthma/v1\n");

    fs.writeFileSync(path.join(dir, "codelists/codelists.txt"), "opensafely/asthma/v1\nopensafely/nope/v1\n");
    const update = await enclave(["codelists", "update", "--url", base], { cwd: dir });
    expect(update.code).toBe(1);
    expect(update.stderr).toMatch(/^downloading opensafely\/asthma\/v1\ndownloading opensafely\/nope\/v1\nerror: opensafely\/nope\/v1 was not found/);
  });

  it("check has nothing to check in a study without codelists; a malformed line is an error with its line", async () => {
    const none = await enclave(["codelists", "check"], { cwd: study({ "project.yaml": "version: '4.0'\n" }) });
    expect(none).toEqual({ code: 0, stdout: "nothing to check: there is no codelists/ folder\n", stderr: "" });
    const bad = await enclave(["codelists", "check"], { cwd: study({ "codelists/codelists.txt": "opensafely/asthma\n" }) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      `error: codelists/codelists.txt, line 1: "opensafely/asthma" is not a codelist id: write project/codelist/version or user/name/codelist/version (it has 2 parts)\n` +
        "error: 1 problem with the codelists: fix codelists/codelists.txt, then run `enclave codelists update`\n",
    );
    const badUrl = await enclave(["codelists", "update", "--url", "nowhere"], { cwd: study({ "codelists/codelists.txt": "" }) });
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toBe(`error: the OpenCodelists address "nowhere" is not a URL (like https://www.opencodelists.org)\n`);
  });
});
