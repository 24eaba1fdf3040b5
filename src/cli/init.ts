// `enclave init [DIR]`: a new study that `enclave run run_all` runs green, made
// from templates/study: a project.yaml, a dataset and a measures definition
// with their codelists, an analysis script that writes a safe table and a
// chart, and a README for the researcher. It never overwrites a file.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { writeCodelistsJson } from "../pipeline/codelists.js";
import { packageRoot } from "../pipeline/package-root.js";
import { UserError, displayPath } from "./errors.js";

// npm leaves .gitignore files out of packages, so the template's is stored without its dot.
const RENAMED: Readonly<Record<string, string>> = { gitignore: ".gitignore" };

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("Start a new study: a project.yaml, a dataset definition with its codelists, an analysis script and a README.")
    .argument("[dir]", "the folder to create the study in (made if missing)", ".")
    .addHelpText("after", "\nExisting files are never overwritten.\n\nExamples:\n  enclave init my-study && cd my-study && enclave run run_all\n  enclave init            (in the current, empty folder)")
    .action((dir: string) => initStudy(dir));
}

/** The template's files, as paths relative to its folder, sorted. */
function templateFiles(root: string, dir = ""): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? templateFiles(root, path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

export function initStudy(dir: string, now: Date = new Date(), quiet = false): void {
  const template = path.join(packageRoot(), "templates", "study");
  const target = path.resolve(dir);
  const files = templateFiles(template).map((f) => ({ from: f, to: path.join(path.dirname(f), RENAMED[path.basename(f)] ?? path.basename(f)) }));
  const clashes = [...files.map((f) => f.to), path.join("codelists", "codelists.json")].filter((f) => fs.existsSync(path.join(target, f)));
  if (clashes.length > 0) {
    throw new UserError(`${displayPath(target)} already has ${clashes.join(", ")}; enclave init never overwrites files: choose an empty folder`);
  }
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(target, f.to)), { recursive: true });
    fs.copyFileSync(path.join(template, f.from), path.join(target, f.to), fs.constants.COPYFILE_EXCL);
  }
  // The example codelists are recorded as if just downloaded, so that `codelists check` passes.
  writeCodelistsJson(target, now);
  if (quiet) return;
  process.stderr.write(
    `created a study in ${displayPath(target)}:\n${files.map((f) => `  ${f.to}\n`).join("")}  codelists/codelists.json\n` +
      `next: ${dir === "." ? "" : `cd ${dir} && `}enclave run run_all\n`,
  );
}
