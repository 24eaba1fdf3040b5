// The entry of the child process that runs a researcher's definition. It holds
// no credentials (its environment is empty) and its only way back to the
// trusted side is one IPC message: the query model as JSON, or an error with the
// definition's file and line. Whatever the definition prints goes to stderr.
//
// Started by definitions.ts as
//   node --import ../cli/loader/register.js definition-child.js '{"file": ..., "params": ...}'

import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setLoadContext } from "../language/context.js";
import { type Dataset, type Measures, isDataset, isMeasures } from "../language/index.js";
import { datasetToJson, measuresToJson } from "../querymodel/index.js";
import type { ChildMessage, ChildRequest } from "./definitions.js";
import { packageRoot } from "./package-root.js";

const send = process.send?.bind(process);
if (send === undefined) {
  console.error("definition-child.js is started by `enclave`; it cannot run on its own");
  process.exit(70);
}

const request = JSON.parse(process.argv[2] ?? "{}") as ChildRequest;
let reported = false;

function reply(message: ChildMessage): void {
  if (reported) return;
  reported = true;
  send!(message, () => process.exit(0));
}

function fail(error: unknown): void {
  reply({ kind: "error", ...describeError(error) });
}

/** The default export, or the export named `dataset`, if it is a Dataset. */
function pickDataset(module: Record<string, unknown>): Dataset {
  if (isDataset(module.default)) return module.default;
  if (isDataset(module.dataset)) return module.dataset;
  const found =
    "default" in module ? `its default export is ${what(module.default)}` : "dataset" in module ? `its export "dataset" is ${what(module.dataset)}` : "it exports neither";
  throw new Error(`a dataset definition must export a Dataset (made with createDataset()) as its default export or as "dataset"; ${found}`);
}

/** The default export, or the export named `measures`, if it is a Measures. */
function pickMeasures(module: Record<string, unknown>): Measures {
  if (isMeasures(module.default)) return module.default;
  if (isMeasures(module.measures)) return module.measures;
  const found =
    "default" in module
      ? `its default export is ${what(module.default, "Measures")}`
      : "measures" in module
        ? `its export "measures" is ${what(module.measures, "Measures")}`
        : "it exports neither";
  throw new Error(`a measures definition must export a Measures (made with createMeasures()) as its default export or as "measures"; ${found}`);
}

function what(x: unknown, wanted = "Dataset"): string {
  if (x === null) return "null";
  if (isDataset(x)) return `a Dataset, not a ${wanted} (a dataset definition is run with generate-dataset)`;
  if (isMeasures(x)) return `a Measures, not a ${wanted} (a measures definition is run with generate-measures)`;
  if (typeof x === "object") return `an object (${x.constructor?.name ?? "without a class"}), not a ${wanted}`;
  return `a ${typeof x}`;
}

const JS_ERRORS = new Set(["TypeError", "ReferenceError", "RangeError", "SyntaxError", "EvalError", "URIError"]);

/** The message, and the first place in the researcher's own files that the stack passes through. */
function describeError(error: unknown): Omit<Extract<ChildMessage, { kind: "error" }>, "kind"> {
  if (!(error instanceof Error)) return { message: `the definition threw ${typeof error === "string" ? JSON.stringify(error) : String(error)}` };
  // JavaScript's own errors are bugs in the definition; their name helps. Enclave's errors speak for themselves.
  const message = JS_ERRORS.has(error.name) ? `${error.name}: ${error.message}` : error.message;
  const at = researcherFrame(error.stack ?? "");
  return at ? { message, ...at } : { message };
}

const FRAME = /(?:\(|at )((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?$/;

function researcherFrame(stack: string): { file: string; line: number; column: number } | undefined {
  const root = packageRoot();
  const enclaveDirs = ["dist", "src", "node_modules"].map((d) => path.join(root, d) + path.sep);
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line.trim());
    if (m === null) continue;
    const file = m[1]!.startsWith("file:") ? fileURLToPath(m[1]!) : m[1]!;
    if (enclaveDirs.some((d) => file.startsWith(d))) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

try {
  setLoadContext({ definitionDir: path.dirname(request.file), params: request.params });
  // The parent gave an empty environment; a sandbox may still add its own (PWD): drop it all.
  for (const k of Object.keys(process.env)) delete process.env[k];
  const module = (await import(pathToFileURL(request.file).href)) as Record<string, unknown>;
  if (request.want === "measures") {
    reply({ kind: "measures", json: measuresToJson(pickMeasures(module).toQueryModel()) });
  } else {
    reply({ kind: "dataset", json: datasetToJson(pickDataset(module).toQueryModel()) });
  }
} catch (e) {
  fail(e);
}
