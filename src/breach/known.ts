// What Enclave knows of its own outputs: the runner's manifests
// (metadata/manifest.json, see pipeline/metadata.ts) give the sha256 of every
// output a job wrote, with its level; a list of released files gives the
// sha256 of the level 4 outputs that passed output checking and left the
// backend, which may be in a repository.

import * as fs from "node:fs";
import { OUTPUT_LEVELS, type OutputLevel } from "../pipeline/project.js";
import { BreachInputError } from "./git.js";

export interface KnownOutput {
  sha256: string;
  /** 3 for highly_sensitive, 4 for moderately_sensitive. */
  level: 3 | 4;
  /** The output's path in its workspace. */
  path: string;
  action: string | null;
  jobId: string | null;
  /** Why a level 4 output was kept out of level 4, when it was. */
  excludedReason: string | null;
  /** The manifest file it comes from. */
  manifest: string;
}

export interface KnownOutputs {
  /** sha256 → the outputs with that content that must not be in a repository (level 3, and level 4 never released). */
  bySha256: Map<string, KnownOutput[]>;
  /** The sizes of those outputs, so that only blobs of those sizes need hashing; null when some size is unknown. */
  sizes: Set<number> | null;
  /** Every output path the manifests name, released or not. */
  paths: Set<string>;
}

export const LEVEL_NUMBER: Record<OutputLevel, 3 | 4> = { highly_sensitive: 3, moderately_sensitive: 4 };

const SHA256 = /^[0-9a-f]{64}$/i;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The manifests' outputs, but the released level 4 ones. A file that cannot be read or is not a manifest is a BreachInputError naming it and what is wrong. */
export function loadManifests(files: readonly string[], released: ReadonlySet<string> = new Set()): KnownOutputs {
  const known: KnownOutputs = { bySha256: new Map(), sizes: new Set(), paths: new Set() };
  for (const file of files) {
    for (const output of readManifest(file)) {
      known.paths.add(output.path);
      if (output.level === 4 && released.has(output.sha256)) continue;
      const list = known.bySha256.get(output.sha256) ?? [];
      list.push(output);
      known.bySha256.set(output.sha256, list);
      if (output.size === null) known.sizes = null;
      else known.sizes?.add(output.size);
    }
  }
  return known;
}

function readManifest(file: string): (KnownOutput & { size: number | null })[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BreachInputError(`cannot read the manifest ${file}: ${code === "ENOENT" ? "there is no such file" : code === "EISDIR" ? "it is a folder (give metadata/manifest.json)" : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BreachInputError(`the manifest ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const fail = (where: string, what: string): never => {
    throw new BreachInputError(`the manifest ${file}: ${where} ${what}`);
  };
  if (!isObject(value)) return fail("the file", "must hold an object, as metadata/manifest.json does");
  if (value.version !== 1) fail("version", `must be 1, not ${JSON.stringify(value.version)}`);
  if (!isObject(value.files)) return fail("files", "must be an object of output path → entry");
  const out: (KnownOutput & { size: number | null })[] = [];
  for (const [p, entry] of Object.entries(value.files)) {
    const where = `files[${JSON.stringify(p)}]`;
    if (!isObject(entry)) return fail(where, "must be an object with level and sha256");
    if (!OUTPUT_LEVELS.includes(entry.level as OutputLevel)) fail(`${where}.level`, `must be ${OUTPUT_LEVELS.map((l) => JSON.stringify(l)).join(" or ")}, not ${JSON.stringify(entry.level)}`);
    if (typeof entry.sha256 !== "string" || !SHA256.test(entry.sha256)) fail(`${where}.sha256`, `must be 64 hex digits, not ${JSON.stringify(entry.sha256)}`);
    if (entry.size !== undefined && entry.size !== null && !(typeof entry.size === "number" && Number.isSafeInteger(entry.size) && entry.size >= 0)) {
      fail(`${where}.size`, `must be a whole number of bytes, not ${JSON.stringify(entry.size)}`);
    }
    const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
    out.push({
      sha256: (entry.sha256 as string).toLowerCase(),
      level: LEVEL_NUMBER[entry.level as OutputLevel],
      path: p,
      action: text(entry.action),
      jobId: text(entry.job_id),
      excludedReason: entry.excluded === true ? (text(entry.excluded_reason) ?? "no reason given") : null,
      manifest: file,
      size: typeof entry.size === "number" ? entry.size : null,
    });
  }
  return out;
}

/**
 * The sha256 of released files, from files of one per line: a sha256 alone, or
 * followed by anything (so `sha256sum`'s output works); blank lines and lines
 * starting with # are skipped.
 */
export function loadReleased(files: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BreachInputError(`cannot read the list of released files ${file}: ${code === "ENOENT" ? "there is no such file" : (e as Error).message}`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) return;
      const first = t.split(/\s+/)[0]!;
      if (!SHA256.test(first)) throw new BreachInputError(`${file}, line ${i + 1}: ${JSON.stringify(first.slice(0, 80))} is not a sha256 (64 hex digits)`);
      out.add(first.toLowerCase());
    });
  }
  return out;
}
