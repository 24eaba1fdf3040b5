// Codelists from OpenCodelists, kept as OpenSAFELY keeps them, so that an
// existing study repository checks as it is:
//
//   codelists/codelists.txt    the ids the study uses, one a line (written by people)
//   codelists/<file>.csv       each codelist as downloaded
//   codelists/codelists.json   {"files": {<file>: {id, url, downloaded_at, sha}}}
//                              (written by `enclave codelists update`)
//
// `sha` is opensafely-cli's: SHA-1 of the file's lines joined with "\n", so that
// a checkout that rewrote line endings (git on Windows) still matches.
// checkCodelists() is offline and synchronous: the runner calls it before it
// lets a database action run.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export const CODELISTS_DIR = "codelists";
export const CODELISTS_TXT = "codelists.txt";
export const CODELISTS_JSON = "codelists.json";
export const DEFAULT_OPENCODELISTS_URL = "https://www.opencodelists.org";
/** The environment variable that overrides the default server. */
export const OPENCODELISTS_URL_ENV = "ENCLAVE_OPENCODELISTS_URL";
/** What fixes every problem checkCodelists() reports about downloads. */
export const UPDATE_HINT = "run `enclave codelists update` to download the codelists again and rewrite codelists/codelists.json";

const TXT_SHOWN = `${CODELISTS_DIR}/${CODELISTS_TXT}`;
const JSON_SHOWN = `${CODELISTS_DIR}/${CODELISTS_JSON}`;
const DOWNLOAD_TIMEOUT_MS = 60_000;
const PARALLEL_DOWNLOADS = 4;

/** Something wrong with the codelists or their download; one line per problem. */
export class CodelistsError extends Error {
  override name = "CodelistsError";
  readonly lines: readonly string[];
  constructor(lines: readonly string[]) {
    super(lines.join("\n"));
    this.lines = lines;
  }
}

export interface Codelist {
  /** As in codelists.txt: `project/codelist/version` or `user/name/codelist/version`. */
  id: string;
  /** The id without its version: two lines with the same one conflict. */
  codelist: string;
  version: string;
  /** The CSV file's name in codelists/. */
  file: string;
  /** The line of codelists.txt (0 for an id given on the command line). */
  line: number;
}

export interface ManifestEntry {
  id: string;
  url: string;
  downloaded_at: string;
  sha: string;
}

export interface Manifest {
  files: Record<string, ManifestEntry>;
}

// ---------------------------------------------------------------------------
// IDS AND codelists.txt

// OpenCodelists' slugs and version tags use these; anything else (a space, `?`,
// `#`) would change the URL the id is downloaded from.
const ID_PART = /^[A-Za-z0-9._~+-]+$/;
const ID_FORMS = "project/codelist/version or user/name/codelist/version";

/**
 * Reads one id (surrounding blanks and a trailing `/` allowed, as
 * opensafely-cli allows them); a string is the reason it is not an id.
 */
export function parseCodelistId(text: string, line = 0): Codelist | string {
  const id = text.trim().replace(/\/+$/, "");
  const parts = id.split("/");
  if (parts.length !== 3 && parts.length !== 4) {
    return `${JSON.stringify(id)} is not a codelist id: write ${ID_FORMS} (it has ${parts.length} ${parts.length === 1 ? "part" : "parts"})`;
  }
  if (parts.length === 4 && parts[0] !== "user") {
    return `${JSON.stringify(id)} is not a codelist id: an id of four parts is a user's codelist, user/name/codelist/version`;
  }
  const bad = parts.find((p) => !ID_PART.test(p) || p === "." || p === "..");
  if (bad !== undefined) {
    const why = bad === "" ? "has an empty part" : `has ${JSON.stringify(bad)}, which is not a name (letters, digits and . _ - ~ + only)`;
    return `${JSON.stringify(id)} is not a codelist id: it ${why}; write ${ID_FORMS}`;
  }
  const codelist = parts.slice(0, -1).join("/");
  return { id, codelist, version: parts.at(-1)!, file: `${parts.slice(0, -1).join("-")}.csv`, line };
}

/**
 * Reads codelists.txt: blank lines and `#` comments are skipped. Every
 * problem is reported, each with its line: an id that is malformed, given
 * twice, another version of one already given, or downloaded to the same file
 * as another.
 */
export function parseCodelistsTxt(text: string, shown = TXT_SHOWN): { codelists: Codelist[]; problems: string[] } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const codelists: Codelist[] = [];
  const problems: string[] = [];
  const byCodelist = new Map<string, Codelist>();
  const byFile = new Map<string, Codelist>();
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const c = parseCodelistId(trimmed, line);
    if (typeof c === "string") {
      problems.push(`${shown}, line ${line}: ${c}`);
      return;
    }
    const same = byCodelist.get(c.codelist);
    if (same !== undefined && same.version === c.version) {
      problems.push(`${shown}, line ${line}: ${c.id} is given twice (first on line ${same.line}); remove one`);
      return;
    }
    if (same !== undefined) {
      problems.push(`${shown}, line ${line}: ${c.id} is another version of ${same.id} (line ${same.line}); a study uses one version of a codelist: keep one`);
      return;
    }
    // `a-b/c/v` and `a/b-c/v` are different codelists with the same file name.
    const clash = byFile.get(c.file);
    if (clash !== undefined) {
      problems.push(`${shown}, line ${line}: ${c.id} would be downloaded to ${CODELISTS_DIR}/${c.file}, as ${clash.id} (line ${clash.line}) is; they cannot both be used`);
      return;
    }
    byCodelist.set(c.codelist, c);
    byFile.set(c.file, c);
    codelists.push(c);
  });
  return { codelists, problems };
}

/** The codelists of a project's codelists/codelists.txt; a CodelistsError if it is missing or has problems. */
export function readCodelistsTxt(projectDir: string): Codelist[] {
  const file = path.join(projectDir, CODELISTS_DIR, CODELISTS_TXT);
  const text = readIfExists(file);
  if (text === undefined) throw new CodelistsError([`there is no ${TXT_SHOWN}: add a codelist with \`enclave codelists add ID\`, or write the file, one id a line`]);
  const { codelists, problems } = parseCodelistsTxt(text.toString("utf8"));
  if (problems.length > 0) throw new CodelistsError(problems);
  return codelists;
}

// ---------------------------------------------------------------------------
// HASHES AND codelists.json

/**
 * opensafely-cli's hash of a codelist file: SHA-1 (hex) of its lines joined
 * with "\n". Lines end at \r\n, \n or \r, as Python's bytes.splitlines() ends
 * them, and a final line ending adds no empty line. It works on the bytes, not
 * on decoded text, so any file hashes as it does there.
 */
export function codelistHash(content: Buffer | string): string {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  // latin1 maps each byte to one character and back, so splitting is byte-exact.
  const lines = bytes.toString("latin1").split(/\r\n|\r|\n/);
  if (lines.at(-1) === "") lines.pop();
  return createHash("sha1").update(Buffer.from(lines.join("\n"), "latin1")).digest("hex");
}

/** The page of a codelist on the server, as opensafely-cli records it in codelists.json. */
export function codelistUrl(baseUrl: string, id: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/codelist/${id}/`;
}

/** Where OpenCodelists serves a codelist version's CSV. */
export function codelistDownloadUrl(baseUrl: string, id: string): string {
  return `${codelistUrl(baseUrl, id)}download.csv`;
}

// A file name in codelists.json is used as a path: it must stay in codelists/.
const SAFE_FILE = /^[^/\\]+\.csv$/;

/** Reads codelists.json: the manifest, or the problem that makes it unusable. */
function parseManifest(text: string): Manifest | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return "is not valid JSON";
  }
  if (!isObject(data) || !isObject(data.files)) return `must be an object with "files": {<csv file name>: {...}}`;
  const files: Record<string, ManifestEntry> = {};
  for (const [file, entry] of Object.entries(data.files)) {
    if (!SAFE_FILE.test(file) || file === "." || file === "..") return `has ${JSON.stringify(file)}, which is not the name of a CSV file in ${CODELISTS_DIR}/`;
    if (!isObject(entry) || typeof entry.sha !== "string") return `has no "sha" for ${file}`;
    // Manifests from before opensafely-cli recorded `id` have only the URL, which ends in the id.
    const id = typeof entry.id === "string" ? entry.id : typeof entry.url === "string" ? /\/codelist\/(.+?)\/?$/.exec(entry.url)?.[1] : undefined;
    if (id === undefined) return `has no "id" for ${file}`;
    files[file] = {
      id,
      url: typeof entry.url === "string" ? entry.url : "",
      downloaded_at: typeof entry.downloaded_at === "string" ? entry.downloaded_at : "",
      sha: entry.sha,
    };
  }
  return { files };
}

/** Written as opensafely-cli writes it (two-space indent, no final newline), so that an update makes no needless diff. */
function formatManifest(manifest: Manifest): string {
  return JSON.stringify(manifest, null, 2);
}

/** A project's codelists.json if it is there and readable; undefined otherwise. */
function readManifest(projectDir: string): Manifest | undefined {
  const text = readIfExists(path.join(projectDir, CODELISTS_DIR, CODELISTS_JSON));
  if (text === undefined) return undefined;
  const m = parseManifest(text.toString("utf8"));
  return typeof m === "string" ? undefined : m;
}

/**
 * Records the CSV files in codelists/ as the download of each codelist in
 * codelists.txt, as of `now` (for `enclave init`, whose example codelists are
 * in its template). Every file must be there.
 */
export function writeCodelistsJson(projectDir: string, now: Date = new Date(), baseUrl: string = DEFAULT_OPENCODELISTS_URL): Manifest {
  const dir = path.join(projectDir, CODELISTS_DIR);
  const codelists = readCodelistsTxt(projectDir);
  const missing = codelists.filter((c) => !isFile(path.join(dir, c.file)));
  if (missing.length > 0) throw new CodelistsError(missing.map((c) => `${CODELISTS_DIR}/${c.file} is missing (the file of ${c.id}, line ${c.line} of ${TXT_SHOWN})`));
  const manifest: Manifest = { files: {} };
  for (const c of codelists) manifest.files[c.file] = entryFor(c, baseUrl, now, fs.readFileSync(path.join(dir, c.file)));
  writeAtomically(path.join(dir, CODELISTS_JSON), formatManifest(manifest));
  return manifest;
}

function entryFor(c: Codelist, baseUrl: string, when: Date, content: Buffer): ManifestEntry {
  return { id: c.id, url: codelistUrl(baseUrl, c.id), downloaded_at: when.toISOString(), sha: codelistHash(content) };
}

// ---------------------------------------------------------------------------
// CHECK (offline)

export interface CheckResult {
  ok: boolean;
  /** One line each, naming the file (and line) concerned; all of them at once. */
  problems: string[];
  /** What to do about the problems, when there are any. */
  hint?: string;
  /** How many codelists codelists.txt lists. */
  count: number;
  /** Set when there is nothing to check: why. */
  nothing?: string;
}

/**
 * Compares codelists.txt, codelists.json and the CSV files in a project's
 * codelists/ folder, without the network: an id missing from the json (or
 * recorded under another file), a json entry not in the txt, a missing CSV, a
 * CSV changed since it was downloaded, a CSV that is in neither.
 */
export function checkCodelists(projectDir: string): CheckResult {
  const dir = path.join(projectDir, CODELISTS_DIR);
  // A study without codelists (or with hand-made CSVs only) has nothing to check, as in opensafely-cli.
  if (!isDirectory(dir)) return { ok: true, problems: [], count: 0, nothing: `there is no ${CODELISTS_DIR}/ folder` };
  const txt = readIfExists(path.join(dir, CODELISTS_TXT));
  const jsonText = readIfExists(path.join(dir, CODELISTS_JSON));
  if (txt === undefined) {
    if (jsonText === undefined) return { ok: true, problems: [], count: 0, nothing: `there is no ${TXT_SHOWN}` };
    return fail([`${JSON_SHOWN} records downloaded codelists but there is no ${TXT_SHOWN}, the list of the study's codelists`], 0, `restore ${TXT_SHOWN}, or delete ${JSON_SHOWN} if the study uses no codelists from OpenCodelists`);
  }
  const { codelists, problems: txtProblems } = parseCodelistsTxt(txt.toString("utf8"));
  // Until every line is right, what is missing or extra cannot be told.
  const count = codelists.length;
  if (txtProblems.length > 0) return fail(txtProblems, count, `fix ${TXT_SHOWN}, then run \`enclave codelists update\``);
  const csvs = csvFiles(dir);
  if (jsonText === undefined) {
    if (codelists.length === 0 && csvs.length === 0) return { ok: true, problems: [], count: 0 };
    return fail([`${JSON_SHOWN} is missing: the codelists have not been downloaded`], count);
  }
  const manifest = parseManifest(jsonText.toString("utf8"));
  if (typeof manifest === "string") return fail([`${JSON_SHOWN} ${manifest}; it is written by \`enclave codelists update\` and is not edited by hand`], count);

  const problems: string[] = [];
  const entries = Object.entries(manifest.files);
  const wanted = new Set(codelists.map((c) => c.id));
  for (const c of codelists) {
    const recorded = entries.filter(([, e]) => e.id === c.id).map(([f]) => f);
    if (recorded.length === 0) problems.push(`${TXT_SHOWN}, line ${c.line}: ${c.id} is not in ${JSON_SHOWN}: it has not been downloaded`);
    else if (!recorded.includes(c.file)) problems.push(`${JSON_SHOWN} records ${c.id} as ${recorded[0]}, not ${c.file}`);
  }
  for (const [file, e] of entries) {
    if (!wanted.has(e.id)) problems.push(`${JSON_SHOWN} has ${e.id} (${file}), which is not in ${TXT_SHOWN}`);
  }
  for (const [file, e] of entries) {
    const content = readIfExists(path.join(dir, file));
    if (content === undefined) problems.push(`${CODELISTS_DIR}/${file} is missing (the download of ${e.id})`);
    else if (codelistHash(content) !== e.sha) problems.push(`${CODELISTS_DIR}/${file} has been changed since it was downloaded (its hash is not the one in ${JSON_SHOWN})`);
  }
  for (const file of csvs) {
    if (!Object.hasOwn(manifest.files, file)) problems.push(`${CODELISTS_DIR}/${file} is not in ${JSON_SHOWN}: it is not a downloaded codelist`);
  }
  if (problems.length > 0) return fail(problems, count);
  return { ok: true, problems: [], count };
}

function fail(problems: string[], count: number, hint = UPDATE_HINT): CheckResult {
  return { ok: false, problems, hint, count };
}

// ---------------------------------------------------------------------------
// DOWNLOADS

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export interface DownloadOptions {
  /** The OpenCodelists server, like https://www.opencodelists.org. */
  url: string;
  /** Node's global fetch unless given (tests give their own). */
  fetch?: Fetch;
  /** Each step, as a line for the user ("downloading ...", "deleted ..."). */
  onProgress?: (message: string) => void;
  /** Per request; 60 seconds unless given. */
  timeoutMs?: number;
  /** The time recorded as `downloaded_at`; now unless given. */
  now?: Date;
}

export interface UpdateResult {
  codelists: Codelist[];
  /** CSV files deleted because no codelist is downloaded to them any more. */
  deleted: string[];
  manifest: Manifest;
}

/**
 * Downloads every codelist in codelists.txt, then (only when all of them have
 * arrived) writes them, rewrites codelists.json and deletes the CSV files no
 * codelist is downloaded to. A failure leaves every file as it was.
 */
export async function updateCodelists(projectDir: string, options: DownloadOptions): Promise<UpdateResult> {
  const base = checkBaseUrl(options.url);
  const dir = path.join(projectDir, CODELISTS_DIR);
  const codelists = readCodelistsTxt(projectDir);
  const contents = await downloadAll(codelists, base, options);
  const old = readManifest(projectDir);
  const now = options.now ?? new Date();
  const manifest: Manifest = { files: {} };
  for (const [i, c] of codelists.entries()) {
    const entry = entryFor(c, base, now, contents[i]!);
    // An unchanged file keeps its date, so that an update that changes nothing changes no file.
    const before = old?.files[c.file];
    if (before !== undefined && before.sha === entry.sha && before.id === c.id && before.downloaded_at !== "") entry.downloaded_at = before.downloaded_at;
    manifest.files[c.file] = entry;
  }
  const keep = new Set(codelists.map((c) => c.file));
  const stale = csvFiles(dir).filter((f) => !keep.has(f));
  writeFiles(dir, [...codelists.map((c, i) => ({ file: c.file, content: contents[i]! })), { file: CODELISTS_JSON, content: formatManifest(manifest) }]);
  for (const file of stale) {
    fs.rmSync(path.join(dir, file), { force: true });
    options.onProgress?.(`deleted ${CODELISTS_DIR}/${file}: no codelist in ${TXT_SHOWN} is downloaded to it`);
  }
  return { codelists, deleted: stale, manifest };
}

/**
 * Adds an id (or the address of a codelist version on the server) to
 * codelists.txt, creating the folder and file if need be, and downloads just
 * that codelist into codelists/ and codelists.json. Nothing is written unless
 * the download succeeds.
 */
export async function addCodelist(projectDir: string, idOrUrl: string, options: DownloadOptions): Promise<Codelist> {
  const base = checkBaseUrl(options.url);
  const parsed = parseCodelistId(idFromAddress(idOrUrl, base));
  if (typeof parsed === "string") throw new CodelistsError([parsed]);
  const dir = path.join(projectDir, CODELISTS_DIR);
  const txtFile = path.join(dir, CODELISTS_TXT);
  const txt = readIfExists(txtFile)?.toString("utf8") ?? "";
  const { codelists, problems } = parseCodelistsTxt(txt);
  if (problems.length > 0) throw new CodelistsError([...problems, `fix ${TXT_SHOWN} before adding to it`]);
  const same = codelists.find((c) => c.codelist === parsed.codelist);
  if (same?.version === parsed.version) {
    throw new CodelistsError([`${parsed.id} is already in ${TXT_SHOWN} (line ${same.line}); \`enclave codelists update\` downloads it again`]);
  }
  if (same !== undefined) {
    throw new CodelistsError([`${TXT_SHOWN}, line ${same.line} has another version of this codelist, ${same.id}; a study uses one version: change that line to ${parsed.id} and run \`enclave codelists update\``]);
  }
  const clash = codelists.find((c) => c.file === parsed.file);
  if (clash !== undefined) throw new CodelistsError([`${parsed.id} would be downloaded to ${CODELISTS_DIR}/${parsed.file}, as ${clash.id} (line ${clash.line} of ${TXT_SHOWN}) is; they cannot both be used`]);

  const [content] = await downloadAll([parsed], base, options);
  const lines = txt.split(/\r\n|\r|\n/);
  const added: Codelist = { ...parsed, line: txt === "" ? 1 : txt.endsWith("\n") || txt.endsWith("\r") ? lines.length : lines.length + 1 };
  const manifest: Manifest = { files: { ...readManifest(projectDir)?.files } };
  manifest.files[added.file] = entryFor(added, base, options.now ?? new Date(), content!);
  fs.mkdirSync(dir, { recursive: true });
  // In the file's own line endings, after its last line even when that has none.
  const eol = txt.includes("\r\n") ? "\r\n" : "\n";
  const separator = txt === "" || /[\r\n]$/.test(txt) ? "" : eol;
  writeFiles(dir, [
    { file: CODELISTS_TXT, content: `${txt}${separator}${added.id}${eol}` },
    { file: added.file, content: content! },
    { file: CODELISTS_JSON, content: formatManifest(manifest) },
  ]);
  return added;
}

/** `https://www.opencodelists.org/codelist/x/y/v1/` (or its download.csv, or with an #anchor) → `x/y/v1`. */
function idFromAddress(text: string, base: string): string {
  const t = text.trim();
  if (!/^https?:\/\//i.test(t)) return t;
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return t;
  }
  const m = /^(?:.*?)\/codelist\/(.+?)\/?(?:download\.csv)?$/.exec(u.pathname);
  if (m === null) throw new CodelistsError([`${t} is not the address of a codelist version (like ${codelistUrl(base, "project/codelist/version")})`]);
  return m[1]!.replace(/\/+$/, "");
}

function checkBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CodelistsError([`the OpenCodelists address ${JSON.stringify(url)} is not a URL (like ${DEFAULT_OPENCODELISTS_URL})`]);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new CodelistsError([`the OpenCodelists address ${url} must start with https:// or http://`]);
  return url.replace(/\/+$/, "");
}

/**
 * Downloads each codelist (a few at a time), in memory; throws a
 * CodelistsError with every failure once all have been tried, except that a
 * server that cannot be reached stops the rest.
 */
async function downloadAll(codelists: readonly Codelist[], base: string, options: DownloadOptions): Promise<Buffer[]> {
  const results: Buffer[] = new Array<Buffer>(codelists.length);
  const failures: { i: number; message: string }[] = [];
  let next = 0;
  let unreachable = false;
  const worker = async (): Promise<void> => {
    while (!unreachable && next < codelists.length) {
      const i = next++;
      const c = codelists[i]!;
      options.onProgress?.(`downloading ${c.id}`);
      const got = await download(c, base, options);
      if ("content" in got) results[i] = got.content;
      else {
        failures.push({ i, message: got.message });
        if (got.unreachable) unreachable = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DOWNLOADS, codelists.length) }, worker));
  if (failures.length > 0) {
    failures.sort((a, b) => a.i - b.i);
    throw new CodelistsError([...failures.map((f) => f.message), `nothing was written: the files in ${CODELISTS_DIR}/ are as they were`]);
  }
  return results;
}

async function download(c: Codelist, base: string, options: DownloadOptions): Promise<{ content: Buffer } | { message: string; unreachable: boolean }> {
  const url = codelistDownloadUrl(base, c.id);
  const fetchFn = options.fetch ?? fetch;
  let response: Response;
  let body: Buffer;
  try {
    response = await fetchFn(url, { headers: { "User-Agent": "Enclave-CLI", Accept: "text/csv" }, signal: AbortSignal.timeout(options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS) });
    body = Buffer.from(await response.arrayBuffer());
  } catch (e) {
    return { message: `cannot download ${c.id}: ${networkError(e)} (${url})`, unreachable: true };
  }
  if (response.status === 404) {
    return { message: `${c.id} was not found at ${base} (404 from ${url}): check the id and version on OpenCodelists`, unreachable: false };
  }
  if (!response.ok) return { message: `cannot download ${c.id}: the server answered ${response.status} ${response.statusText} (${url})`, unreachable: false };
  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "text/csv") {
    // OpenCodelists answers a draft's download with a page that says so.
    if (body.toString("utf8").toLowerCase().includes("this version is a draft")) {
      return { message: `${c.id} is a draft codelist, which cannot be used until it is published (${codelistUrl(base, c.id)})`, unreachable: false };
    }
    return { message: `${c.id}: ${url} did not answer with a CSV file (its content type is ${type === "" ? "not given" : type}); is ${base} an OpenCodelists server?`, unreachable: false };
  }
  return { content: body };
}

function networkError(e: unknown): string {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return "the server did not answer in time";
  // Node's fetch fails with "fetch failed" and puts the reason in `cause`.
  const cause = e instanceof Error ? (e.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  if (code === "ECONNREFUSED") return "the server refused the connection";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the server's name could not be found (is this machine online?)";
  const detail = typeof cause?.message === "string" ? cause.message : e instanceof Error ? e.message : String(e);
  return `the server could not be reached: ${detail}`;
}

// ---------------------------------------------------------------------------
// FILES

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function isFile(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** The `.csv` files in codelists/, sorted; nothing else there is ever touched. */
function csvFiles(dir: string): string[] {
  if (!isDirectory(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".csv"))
    .map((e) => e.name)
    .sort();
}

function writeAtomically(file: string, content: string | Buffer): void {
  writeFiles(path.dirname(file), [{ file: path.basename(file), content }]);
}

/**
 * Writes every file to a temporary name first (not ending in .csv, so never
 * taken for a codelist), then renames them all into place: a failure part way
 * through writing leaves the old files.
 */
function writeFiles(dir: string, files: readonly { file: string; content: string | Buffer }[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      const temp = path.join(dir, `.${f.file}.${process.pid}.tmp`);
      temps.push(temp);
      fs.writeFileSync(temp, f.content);
    }
  } catch (e) {
    for (const t of temps) fs.rmSync(t, { force: true });
    throw e;
  }
  files.forEach((f, i) => fs.renameSync(temps[i]!, path.join(dir, f.file)));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
