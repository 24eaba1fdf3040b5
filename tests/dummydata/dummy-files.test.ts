// Dummy data in files, end to end: `create-dummy-tables` writes the generated
// tables for editing, and `generate-dataset --dummy-data-file` writes a
// researcher's own dummy dataset once it fits the definition.

import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeDataset } from "../../src/engines/files/index.js";
import type { Row } from "../../src/engines/types.js";
import { backendOptions, chosenDsn } from "../../src/cli/data-source.js";
import { ROOT, enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

// No database about: DATABASE_URL would otherwise be taken as the data source.
const ENV = { DATABASE_URL: "" };

// Every column type, a core table and a table of the definition's own, and a
// parameter, so that the round trip goes through every cell format.
const TABLES_DEFINITION = `
import { createDataset, eventTable, getParameter, patientTable } from "enclave";
import { clinicalEvents, patients } from "enclave/tables/core";

const people = patientTable("people", { registered: "date", region: "str", smoker: "bool", bmi: "float", visits: "int" });
const events = eventTable("events", { date: "date", code: "snomedct", value: "float", n: "int" });
const since = getParameter("since");

const dataset = createDataset();
dataset.configureDummyData({ populationSize: 50, seed: 3 });
const age = patients.ageOn("2024-01-01");
dataset.definePopulation(people.existsForPatient().and(age.ge(18)).and(age.lt(90)));
dataset.addColumn("age", age);
dataset.addColumn("sex", patients.sex);
dataset.addColumn("registered", people.registered);
dataset.addColumn("region", people.region);
dataset.addColumn("smoker", people.smoker);
dataset.addColumn("bmi", people.bmi);
dataset.addColumn("visits", people.visits);
const recent = events.where(events.date.isOnOrAfter(since));
const last = recent.sortBy(recent.date).lastForPatient();
dataset.addColumn("recent", recent.countForPatient());
dataset.addColumn("last_code", last.code);
dataset.addColumn("last_value", last.value);
dataset.addColumn("total_n", events.n.sumForPatient());
dataset.addColumn("first_event", clinicalEvents.sortBy(clinicalEvents.date).firstForPatient().date);
export default dataset;
`;
const PARAM = ["--param", "since=2015-01-01"];

/** The dummy tables written once, and the dataset generated without them, shared by the round trips. */
let shared: Promise<{ dir: string; created: string; generated: string }> | undefined;
function createdOnce() {
  shared ??= (async () => {
    const dir = study({ "def.ts": TABLES_DEFINITION });
    const [created, generated] = await Promise.all([
      enclave(["create-dummy-tables", "def.ts", "dummy/tables", ...PARAM], { cwd: dir, env: ENV }),
      enclave(["generate-dataset", "def.ts", ...PARAM], { cwd: dir, env: ENV }),
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(generated.code, generated.stderr).toBe(0);
    return { dir, created: created.stderr, generated: generated.stdout };
  })();
  return shared;
}

describe.concurrent("create-dummy-tables", { timeout: 60_000 }, () => {
  it("makes the folder and writes a table file for each table the definition reads, saying what it wrote", async () => {
    const { dir, created } = await createdOnce();
    expect(fs.readdirSync(path.join(dir, "dummy/tables")).sort()).toEqual(["clinical_events.csv", "events.csv", "patients.csv", "people.csv"]);
    expect(created).toMatch(/^wrote dummy tables for 50 patients \(seed 3\) to dummy\/tables:\n/);
    for (const table of ["clinical_events", "events", "patients", "people"]) {
      const lines = fs.readFileSync(path.join(dir, "dummy/tables", `${table}.csv`), "utf8").trimEnd().split("\n");
      expect(created).toContain(`  ${table}.csv: ${lines.length - 1} rows\n`);
    }
    const people = fs.readFileSync(path.join(dir, "dummy/tables/people.csv"), "utf8").split("\n");
    // patient_id, then the columns in the order the definition declares them.
    expect(people[0]).toBe("patient_id,registered,region,smoker,bmi,visits");
    expect(people).toHaveLength(52);
    expect(people.slice(1, -1).every((l) => /^\d+,(\d{4}-\d\d-\d\d)?,[a-z]*,[TF]?,(-?\d+\.\d+)?,(-?\d+)?$/.test(l))).toBe(true);
  });

  for (const engine of ["memory", "duckdb", "sqlite"]) {
    it(`generate-dataset --dummy-tables over them on the ${engine} engine gives exactly the generated dataset`, async () => {
      const { dir, generated } = await createdOnce();
      const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "dummy/tables", "--engine", engine, ...PARAM], { cwd: dir, env: ENV });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(generated.split("\n")).toHaveLength(52);
      expect(r.stdout).toBe(generated);
    });
  }

  it("never overwrites a table file without --force, and with it leaves no temporary files", async () => {
    const edited = "patient_id,registered,region,smoker,bmi,visits\n1,2020-01-01,north,T,22.5,3\n";
    const dir = study({ "def.ts": TABLES_DEFINITION, "tables/people.csv": edited, "tables/notes.txt": "mine" });
    const refused = await enclave(["create-dummy-tables", "def.ts", "tables", ...PARAM], { cwd: dir, env: ENV });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "error: tables/people.csv already exists; not overwriting it, as table files may hold your edits\nerror: use --force to overwrite\n",
    );
    // Nothing at all was written: not even the tables that did not exist.
    expect(fs.readdirSync(path.join(dir, "tables")).sort()).toEqual(["notes.txt", "people.csv"]);
    expect(fs.readFileSync(path.join(dir, "tables/people.csv"), "utf8")).toBe(edited);

    const forced = await enclave(["create-dummy-tables", "def.ts", "tables", "--force", ...PARAM], { cwd: dir, env: ENV });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain("  people.csv: 50 rows\n");
    expect(fs.readdirSync(path.join(dir, "tables")).sort()).toEqual(["clinical_events.csv", "events.csv", "notes.txt", "patients.csv", "people.csv"]);
    expect(fs.readFileSync(path.join(dir, "tables/people.csv"), "utf8")).not.toBe(edited);
    expect(fs.readFileSync(path.join(dir, "tables/notes.txt"), "utf8")).toBe("mine");
  });

  it("refuses, even with --force, to give a table a second file beside its .parquet or .csv.gz", async () => {
    const dir = study({ "def.ts": TABLES_DEFINITION, "tables/events.parquet": "not really" });
    const r = await enclave(["create-dummy-tables", "def.ts", "tables", "--force", ...PARAM], { cwd: dir, env: ENV });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: tables\/events\.parquet already exists: writing tables\/events\.csv beside it would give table events two files\nerror: move or remove it, /);
    expect(fs.readdirSync(path.join(dir, "tables"))).toEqual(["events.parquet"]);
  });

  it("a hand-edited table file with a bad value: the reader names the file, line and column", async () => {
    const created = await createdOnce();
    const dir = study({ "def.ts": TABLES_DEFINITION });
    fs.cpSync(path.join(created.dir, "dummy/tables"), path.join(dir, "tables"), { recursive: true });
    const file = path.join(dir, "tables/people.csv");
    const lines = fs.readFileSync(file, "utf8").split("\n");
    const cells = lines[3]!.split(",");
    cells[1] = "2021-02-30";
    lines[3] = cells.join(",");
    fs.writeFileSync(file, lines.join("\n"));
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", ...PARAM], { cwd: dir, env: ENV });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('error: tables/people.csv, line 4, column registered: "2021-02-30" is not a date (expected YYYY-MM-DD)\n');
  });

  it("needs a definition and a folder", async () => {
    const r = await enclave(["create-dummy-tables", "def.ts"], { cwd: ROOT, env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'dir'");
  });
});

// One variable of each type, so every cell check is reached.
const FILE_DEFINITION = `
import { createDataset, patientTable } from "enclave";
const people = patientTable("people", { date_of_birth: "date", sex: "str", smoker: "bool", bmi: "float", code: "snomedct" });
const dataset = createDataset();
dataset.definePopulation(people.existsForPatient());
dataset.addColumn("age", people.date_of_birth.year);
dataset.addColumn("dob", people.date_of_birth);
dataset.addColumn("smoker", people.smoker);
dataset.addColumn("bmi", people.bmi);
dataset.addColumn("sex", people.sex);
dataset.addColumn("code", people.code);
export default dataset;
`;
const HEADER = "patient_id,age,dob,smoker,bmi,sex,code";
const GOOD_ROW = "1,44,1980-05-01,T,22.5,female,123456";
// Columns in another order, values as a researcher might write them.
const GOOD_FILE = 'code,bmi,patient_id,sex,smoker,dob,age\n123456,22.5,1,female,T,1980-05-01,44\n,,2,,,,\n654321,58,3,"male, probably",false,2001-12-31,23\n';
const GOOD_DATASET = `${HEADER}\n1,44,1980-05-01,T,22.5,female,123456\n2,,,,,,\n3,23,2001-12-31,F,58.0,"male, probably",654321\n`;
const GOOD_COLUMNS = [
  { name: "patient_id", type: "int" },
  { name: "age", type: "int" },
  { name: "dob", type: "date" },
  { name: "smoker", type: "bool" },
  { name: "bmi", type: "float" },
  { name: "sex", type: "str" },
  { name: "code", type: "snomedct" },
];
const GOOD_ROWS: Row[] = [
  [1, 44, "1980-05-01", true, 22.5, "female", "123456"],
  [2, null, null, null, null, null, null],
  [3, 23, "2001-12-31", false, 58, "male, probably", "654321"],
];

async function* once(rows: Row[]): AsyncGenerator<Row[]> {
  yield rows;
}

describe.concurrent("generate-dataset --dummy-data-file", { timeout: 60_000 }, () => {
  it("writes the file's rows with the definition's columns in the definition's order", async () => {
    const dir = study({ "def.ts": FILE_DEFINITION, "dummy.csv": GOOD_FILE });
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-data-file", "dummy.csv"], { cwd: dir, env: ENV });
    expect(r.stderr).toBe("note: this is the dummy data in dummy.csv, checked against the definition\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(GOOD_DATASET);
  });

  it("reads .csv.gz, and writes --output as generate-dataset does", async () => {
    const dir = study({ "def.ts": FILE_DEFINITION });
    fs.writeFileSync(path.join(dir, "dummy.csv.gz"), gzipSync(GOOD_FILE));
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-data-file", "dummy.csv.gz", "--output", "out/dataset.csv"], { cwd: dir, env: ENV });
    expect(r.stderr).toBe("note: this is the dummy data in dummy.csv.gz, checked against the definition\nwrote 3 rows to out/dataset.csv\n");
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, "out/dataset.csv"), "utf8")).toBe(GOOD_DATASET);
  });

  for (const format of ["parquet", "arrow"]) {
    it(`reads .${format}, as generate-dataset writes it`, async () => {
      const dir = study({ "def.ts": FILE_DEFINITION });
      await writeDataset(path.join(dir, `dummy.${format}`), GOOD_COLUMNS, once(GOOD_ROWS));
      const r = await enclave(["generate-dataset", "def.ts", "--dummy-data-file", `dummy.${format}`], { cwd: dir, env: ENV });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(GOOD_DATASET);
    });
  }

  // Bad values, one a line, and what is said about each: all in one file, as
  // they are all reported at once, in the file's order.
  const badValues: [string, string][] = [
    ["2,abc,,,,,", 'column "age": "abc" is not an integer (expected digits, optionally preceded by -)'],
    ["3,,2021-02-30,,,,", 'column "dob": "2021-02-30" is not a date (expected YYYY-MM-DD)'],
    ["4,,,yes,,,", 'column "smoker": "yes" is not a boolean (expected T or F)'],
    ['5,,,,"1,5",,', 'column "bmi": "1,5" is not a number (expected a finite decimal number such as 58 or -1.5)'],
    ["6,,,,,,12", 'column "code": "12" is not a valid SNOMED CT code'],
    [",,,,,,", 'column "patient_id": empty; every row needs a patient_id'],
    ["x,,,,,,", 'column "patient_id": "x" is not an integer (expected digits, optionally preceded by -)'],
    [GOOD_ROW, 'column "patient_id": patient 1 appears twice (also on line 2); a dataset has one row per patient'],
    ["7,,", "expected 7 cells as in the header, found 3"],
    ['8,,,,,"oops,', "a quoted cell is never closed (unterminated quote) (the file was not read beyond it)"],
  ];

  // Each a file that does not fit: what stderr must say (all of it, or a pattern). Nothing is written.
  const cases: { name: string; file: string; text?: string; stderr: string | RegExp }[] = [
    {
      name: "bad values of every type, all at once",
      file: "dummy.csv",
      text: `${HEADER}\n${GOOD_ROW}\n${badValues.map(([line]) => line).join("\n")}\n`,
      stderr: [
        `error: dummy.csv does not fit the dataset definition: ${badValues.length} problems`,
        ...badValues.map(([, problem], i) => `error: dummy.csv, line ${i + 3}${problem.startsWith("column") ? ", " : ": "}${problem}`),
        "",
      ].join("\n"),
    },
    {
      name: "more problems than are listed",
      file: "dummy.csv",
      text: `${HEADER}\n${Array.from({ length: 25 }, (_, i) => `${i + 1},bad,,,,,`).join("\n")}\n`,
      stderr: /^error: dummy\.csv does not fit the dataset definition: 25 problems\n(error: dummy\.csv, line \d+, column "age": "bad" is not an integer [^\n]*\n){20}error: and 5 more\n$/,
    },
    {
      name: "missing columns, an unexpected column and a column twice, all at once",
      file: "dummy.csv",
      text: "patient_id,age,dob,smoker,sex,notes,age\n1,44,1980-05-01,T,female,,44\n",
      stderr:
        'error: dummy.csv: the columns do not match the dataset definition\'s: missing columns "bmi", "code"; unexpected column "notes"; column "age" more than once\n' +
        "error: the dataset definition's columns are patient_id, age, dob, smoker, bmi, sex, code (in any order)\n",
    },
    { name: "an empty file", file: "dummy.csv", text: "", stderr: "error: dummy.csv: the file is empty; expected a header row with the columns patient_id, age, dob, smoker, bmi, sex, code\n" },
    { name: "a file that is not there", file: "missing.csv", stderr: "error: --dummy-data-file missing.csv: no such file\n" },
    {
      name: "an unknown ending",
      file: "dummy.txt",
      text: `${HEADER}\n`,
      stderr: "error: --dummy-data-file dummy.txt: cannot tell the format from the file's ending; use .csv, .csv.gz, .parquet, .arrow\n",
    },
    { name: "a .parquet that is not Parquet", file: "dummy.parquet", text: "not parquet", stderr: /^error: dummy\.parquet: not a readable Parquet file/ },
    { name: "an .arrow that is not Arrow", file: "dummy.arrow", text: "not arrow", stderr: /^error: dummy\.arrow: not a readable Arrow IPC file/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const dir = study({ "def.ts": FILE_DEFINITION, ...(c.text !== undefined ? { [c.file]: c.text } : {}) });
      const r = await enclave(["generate-dataset", "def.ts", "--dummy-data-file", c.file, "--output", "out/dataset.csv"], { cwd: dir, env: ENV });
      if (typeof c.stderr === "string") expect(r.stderr).toBe(c.stderr);
      else expect(r.stderr).toMatch(c.stderr);
      expect(r.code).toBe(1);
      expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });
  }

  it("is ignored where DATABASE_URL is set (a backend), as --dummy-tables is, and as ehrQL ignores it there", () => {
    const notes: string[] = [];
    const inBackend = backendOptions({ dummyDataFile: "dummy.csv" }, { DATABASE_URL: "sqlite:///backend.db" }, (t) => notes.push(t));
    expect(inBackend.dummyDataFile).toBeUndefined();
    expect(chosenDsn(inBackend, { DATABASE_URL: "sqlite:///backend.db" })).toBe("sqlite:///backend.db");
    expect(notes).toEqual(["note: DATABASE_URL is set, so this runs against that database; --dummy-data-file dummy.csv is for dummy data on your own machine, and ignored here"]);
    // On one's own machine (no DATABASE_URL, or an empty one) it is the dataset.
    expect(backendOptions({ dummyDataFile: "dummy.csv" }, { DATABASE_URL: "" }).dummyDataFile).toBe("dummy.csv");
    expect(chosenDsn({ dummyDataFile: "dummy.csv" }, {})).toBeUndefined();
  });

  for (const [other, message] of [
    [["--dummy-tables", "tables"], "error: give either --dummy-data-file or --dummy-tables, not both: the dummy data file is the dataset itself\n"],
    [["--dsn", "sqlite:///x.db"], "error: give either --dummy-data-file or --dsn, not both: the dummy data file is the dataset itself\n"],
    [["--engine", "duckdb"], "error: --engine duckdb has nothing to run with --dummy-data-file: the file is the dataset, written out as it is\n"],
  ] as const) {
    it(`is a usage error with ${other[0]}`, async () => {
      const dir = study({ "def.ts": FILE_DEFINITION, "dummy.csv": GOOD_FILE });
      const r = await enclave(["generate-dataset", "def.ts", "--dummy-data-file", "dummy.csv", ...other], { cwd: dir, env: ENV });
      expect([r.code, r.stdout, r.stderr]).toEqual([2, "", message]);
    });
  }
});

describe.concurrent("--help", { timeout: 30_000 }, () => {
  it("lists create-dummy-tables", async () => {
    const r = await enclave(["--help"], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}create-dummy-tables \[options\] <definition> <dir>/m);
  });

  it("explains create-dummy-tables", async () => {
    const r = await enclave(["create-dummy-tables", "--help"], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: enclave create-dummy-tables \[options\] <definition> <dir>/);
    for (const option of ["--force", "--param <name=value>", "configureDummyData", "--dummy-tables"]) expect(r.stdout).toContain(option);
  });

  it("explains --dummy-data-file in generate-dataset's help, and not in generate-measures'", async () => {
    const [dataset, measures] = await Promise.all([enclave(["generate-dataset", "--help"], { cwd: ROOT }), enclave(["generate-measures", "--help"], { cwd: ROOT })]);
    expect(dataset.stdout).toContain("--dummy-data-file <file>");
    expect(measures.stdout).not.toContain("--dummy-data-file");
  });
});
