// `enclave validate`: check a project.yaml against every rule and list every
// problem at once, each with its line, action and key.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { type Project, ProjectError, parseProject } from "../pipeline/index.js";
import { UserError, displayPath } from "./errors.js";

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("Check a project.yaml: its actions, what they run, need and write. Every problem is listed, with its line.")
    .argument("[file]", "the project.yaml, or the folder that holds it", "project.yaml")
    .addHelpText(
      "after",
      "\nPrints `project.yaml is valid: N actions`, or each problem on a line of its own\nand exits with 1.\n" +
        "\nExamples:\n" +
        "  enclave validate                       (project.yaml in the current folder)\n" +
        "  enclave validate studies/diabetes      (the project.yaml in that folder)\n" +
        "  enclave validate studies/diabetes/project.yaml",
    )
    .action((file: string) => {
      const { file: found, project } = readProjectFile(file);
      const n = project.actions.size;
      process.stdout.write(`${displayPath(found)} is valid: ${n} ${n === 1 ? "action" : "actions"}\n`);
    });
}

/**
 * Reads and validates a project.yaml, given as the file or its folder; a
 * missing file or an invalid one is a UserError, one line per problem.
 */
export function readProjectFile(fileOrFolder: string): { file: string; project: Project } {
  let file = path.resolve(fileOrFolder);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) file = path.join(file, "project.yaml");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const missing = file === path.join(process.cwd(), "project.yaml") ? "there is no project.yaml in the current folder" : `cannot find ${displayPath(file)}`;
    throw new UserError(`${missing} (give the file or its folder: enclave validate path/to/project.yaml)`);
  }
  try {
    return { file, project: parseProject(text, displayPath(file)) };
  } catch (e) {
    if (!(e instanceof ProjectError)) throw e;
    const [first, ...rest] = e.lines;
    throw new UserError(first!, rest);
  }
}
