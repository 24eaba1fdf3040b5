// The `run:` line of a project.yaml action: `image:version args...`.
//
// It is split into words the way a POSIX shell would split it (quotes and
// backslashes), but nothing else of a shell applies: no variables, no globbing,
// no pipes or redirections. OpenSAFELY splits it with Python's shlex.split, so
// a study written for OpenSAFELY splits the same way here.

/** A `run:` line that cannot be split or does not name an image Enclave runs. */
export class RunCommandError extends Error {
  override name = "RunCommandError";
}

/** What an action runs: the image, its version, and the arguments after `image:version`. */
export interface RunCommand {
  image: string;
  version: string;
  /** The arguments after `image:version`, split like a shell. */
  command: string[];
  /** The `run:` text as written. */
  raw: string;
}

/** One word of a split line; `quoted` when any part of it was quoted or escaped. */
export interface Word {
  value: string;
  quoted: boolean;
}

// The characters that separate words (a YAML folded or multi-line string may hold newlines).
const SPACE = new Set([" ", "\t", "\n", "\r", "\f", "\v"]);
// Inside double quotes a backslash escapes only these; before anything else it is kept.
const DOUBLE_QUOTE_ESCAPES = new Set(['"', "\\", "$", "`", "\n"]);

/** Splits a line into words like a POSIX shell; throws RunCommandError for an unclosed quote or a trailing backslash. */
export function splitWords(text: string): Word[] {
  const words: Word[] = [];
  // `word` is undefined between words, so that '' still makes an (empty) word.
  let word: string | undefined;
  let quoted = false;
  const end = () => {
    if (word !== undefined) words.push({ value: word, quoted });
    word = undefined;
    quoted = false;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (SPACE.has(c)) {
      end();
      i += 1;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw new RunCommandError("it ends with a backslash (\\) that escapes nothing");
      // Backslash-newline continues the line, as in a shell.
      if (text[i + 1] !== "\n") {
        word = (word ?? "") + text[i + 1]!;
        quoted = true;
      }
      i += 2;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new RunCommandError(`the single quote (') at character ${i + 1} is never closed`);
      word = (word ?? "") + text.slice(i + 1, close);
      quoted = true;
      i = close + 1;
    } else if (c === '"') {
      let j = i + 1;
      let inside = "";
      for (;;) {
        if (j >= text.length) throw new RunCommandError(`the double quote (") at character ${i + 1} is never closed`);
        const d = text[j]!;
        if (d === '"') break;
        if (d === "\\" && j + 1 < text.length && DOUBLE_QUOTE_ESCAPES.has(text[j + 1]!)) {
          if (text[j + 1] !== "\n") inside += text[j + 1]!;
          j += 2;
        } else {
          inside += d;
          j += 1;
        }
      }
      word = (word ?? "") + inside;
      quoted = true;
      i = j + 1;
    } else {
      word = (word ?? "") + c;
      i += 1;
    }
  }
  end();
  return words;
}

/** The argv a line stands for, split like a shell (see splitWords). */
export function shellSplit(text: string): string[] {
  return splitWords(text).map((w) => w.value);
}

// ---------------------------------------------------------------------------
// IMAGES

/** The images Enclave runs, and what each is for. */
export const IMAGES: Readonly<Record<string, string>> = {
  enclave: "Enclave's own commands: generate-dataset, generate-measures, dump-dataset-definition",
  node: "a TypeScript or JavaScript script",
  python: "a Python script",
  r: "an R script",
  sqlrunner: "a SQL file run against the database (a database action)",
};

// OpenSAFELY's images that Enclave does not run, with what to write instead.
// Named apart from a plain typo so that a study ported from OpenSAFELY gets a
// useful answer rather than a guess at the nearest name.
const OPENSAFELY_IMAGES: Readonly<Record<string, string>> = {
  ehrql: "Enclave runs dataset and measures definitions itself: write enclave:v1 generate-dataset (or generate-measures) with a TypeScript definition",
  databuilder: "ehrQL's old name; Enclave runs dataset definitions with enclave:v1 generate-dataset",
  cohortextractor: "retired by OpenSAFELY; Enclave runs dataset definitions with enclave:v1 generate-dataset",
  "stata-mp": "Enclave has no Stata image",
  jupyter: "Enclave has no Jupyter image; run the notebook's code as a python:v1 script",
};

/**
 * The enclave:v1 commands an action may run. The other commands of the
 * `enclave` CLI are for the researcher's machine or the platform: `synth` builds
 * a synthetic backend, `create-dummy-tables` and `dump-dataset-sql` help while
 * writing a definition; none of them belongs in a job.
 */
export const ENCLAVE_ACTION_COMMANDS: readonly string[] = ["generate-dataset", "generate-measures", "dump-dataset-definition"];
const ENCLAVE_OTHER_COMMANDS: readonly string[] = ["synth", "create-dummy-tables", "dump-dataset-sql"];

/** The enclave:v1 commands that read the database: their actions are database actions. */
export const ENCLAVE_DATABASE_COMMANDS: readonly string[] = ["generate-dataset", "generate-measures"];

// Version `v<digits>` or `dev` (an image built locally), as OpenSAFELY has it.
const VERSION = /^(v\d+|dev)$/;

// Words that a shell would treat as pipes, redirections or separators: here they
// would reach the script as plain arguments, which is never what was meant.
const SHELL_OPERATORS = new Set(["|", "||", "&", "&&", ";", ">", ">>", "<", "<<", "2>", "2>&1", "&>"]);

/** Parses a `run:` line; throws RunCommandError naming the first thing that is wrong. */
export function parseRunCommand(raw: string, nearest: (word: string, among: readonly string[]) => string | undefined = () => undefined): RunCommand {
  const words = splitWords(raw);
  if (words.length === 0) throw new RunCommandError('it is empty: write the image and its arguments, like "node:v1 analysis/report.ts"');
  const first = words[0]!.value;
  const colon = first.indexOf(":");
  const image = colon < 0 ? first : first.slice(0, colon);
  const version = colon < 0 ? "" : first.slice(colon + 1);
  const known = Object.keys(IMAGES);
  if (!Object.hasOwn(IMAGES, image)) {
    const images = `Enclave's images are ${known.join(", ")}`;
    if (Object.hasOwn(OPENSAFELY_IMAGES, image)) throw new RunCommandError(`image "${image}" is OpenSAFELY's, not Enclave's: ${OPENSAFELY_IMAGES[image]} (${images})`);
    const guess = nearest(image, known);
    throw new RunCommandError(`unknown image "${image}"${guess ? ` (did you mean "${guess}"?)` : ""}; ${images}`);
  }
  if (colon < 0 || version === "") throw new RunCommandError(`image "${image}" has no version: write ${image}:v1`);
  if (!VERSION.test(version)) throw new RunCommandError(`"${version}" is not a version: write v and a number (${image}:v1), or dev`);
  const command = words.slice(1).map((w) => w.value);
  if (image === "enclave") {
    const sub = command[0];
    const list = ENCLAVE_ACTION_COMMANDS.join(", ");
    if (sub === undefined) throw new RunCommandError(`enclave:${version} needs a command: ${list}`);
    if (ENCLAVE_OTHER_COMMANDS.includes(sub)) throw new RunCommandError(`"enclave ${sub}" is not run in an action (an action runs ${list})`);
    if (!ENCLAVE_ACTION_COMMANDS.includes(sub)) {
      const guess = nearest(sub, ENCLAVE_ACTION_COMMANDS);
      throw new RunCommandError(`enclave has no command "${sub}"${guess ? ` (did you mean "${guess}"?)` : ""}; an action runs ${list}`);
    }
  } else if (command.length === 0) {
    const example = { node: "analysis/report.ts", python: "analysis/report.py", r: "analysis/report.R", sqlrunner: "analysis/query.sql --output output/results.csv" }[image];
    throw new RunCommandError(`${image}:${version} needs something to run, like ${image}:${version} ${example ?? ""}`.trimEnd());
  }
  for (const w of words.slice(1)) {
    if (!w.quoted && SHELL_OPERATORS.has(w.value)) {
      throw new RunCommandError(`"${w.value}" is not a shell operator here: run is not run by a shell, so it would reach the command as an argument (write files from the script itself; quote it if it is meant as an argument)`);
    }
  }
  // The platform gives a database action its database in the environment; a DSN
  // in project.yaml would put credentials in the repository and choose the database for the platform.
  if (command.some((a) => a === "--dsn" || a.startsWith("--dsn="))) {
    throw new RunCommandError("--dsn is not allowed in project.yaml: the platform gives database actions their database (and its credentials) in the environment");
  }
  return { image, version, command, raw };
}

/** Whether the command reads the database: enclave:v1 generate-dataset or generate-measures, or anything on sqlrunner. */
export function isDatabaseCommand(run: RunCommand): boolean {
  if (run.image === "sqlrunner") return true;
  return run.image === "enclave" && ENCLAVE_DATABASE_COMMANDS.includes(run.command[0] ?? "");
}

/**
 * The path given with `--output <path>` or `--output=<path>`: undefined when
 * there is none; throws RunCommandError when it is given twice or with no path.
 */
export function outputArgument(run: RunCommand): string | undefined {
  let found: string | undefined;
  const args = run.command;
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i]!;
    let value: string | undefined;
    if (a === "--output") {
      value = args[i + 1];
      if (value === undefined || value.startsWith("-")) throw new RunCommandError("--output needs a path, like --output output/dataset.csv");
      i += 1;
    } else if (a.startsWith("--output=")) {
      value = a.slice("--output=".length);
      if (value === "") throw new RunCommandError("--output needs a path, like --output=output/dataset.csv");
    } else {
      continue;
    }
    if (found !== undefined) throw new RunCommandError("--output is given twice");
    found = value;
  }
  return found;
}
