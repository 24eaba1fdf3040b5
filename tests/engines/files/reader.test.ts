import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FileTableReader, RowsTableReader, TableFileError } from "../../../src/engines/files/index.js";
import type { TableSpec } from "../../../src/engines/types.js";

const patients: TableSpec = { name: "patients", schema: { date_of_birth: "date", sex: "str" }, patientLevel: true };
const events: TableSpec = {
  name: "events",
  schema: { date: "date", code: "snomedct", value: "float", n: "int", flag: "bool", causes: "icd10multi" },
  patientLevel: false,
};

let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "enclave-reader-"));
  // A relative-looking folder name inside the temporary root, so messages can be checked exactly.
  dir = join(root, "dummy_tables");
  await mkdir(dir);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(root, { recursive: true, force: true });
});

async function readText(spec: TableSpec, text: string): Promise<unknown[]> {
  await writeFile(join(dir, `${spec.name}.csv`), text);
  return new FileTableReader(dir).read(spec);
}
async function failure(spec: TableSpec, text: string): Promise<string> {
  try {
    await readText(spec, text);
  } catch (e) {
    expect(e).toBeInstanceOf(TableFileError);
    return (e as Error).message.replace(`${dir}/`, "dummy_tables/");
  }
  throw new Error("expected the read to fail");
}

describe("FileTableReader: reading", () => {
  it("reads typed rows in schema order, whatever the file's column order; extra columns are ignored", async () => {
    const rows = await readText(events, "n,patient_id,extra,date,code,value,flag,causes\n3,1,zzz,2020-01-02,22298006,58,T,I21|I22\n,2,,,,,,\n-4,1,x,2021-12-31,22298006,-1.25,false,\n");
    expect(rows).toEqual([
      [1, "2020-01-02", "22298006", 58, 3, true, "I21|I22"],
      [2, null, null, null, null, null, null],
      [1, "2021-12-31", "22298006", -1.25, -4, false, null],
    ]);
  });

  it("handles a BOM, CRLF, quoted commas, doubled quotes and quoted newlines", async () => {
    const rows = await readText(patients, '\uFEFFpatient_id,date_of_birth,sex\r\n1,1990-01-01,"fe,male"\r\n2,,"say ""x"""\r\n3,,"a\r\nb"\r\n');
    expect(rows).toEqual([
      [1, "1990-01-01", "fe,male"],
      [2, null, 'say "x"'],
      [3, null, "a\r\nb"],
    ]);
  });

  it("reads a gzipped file", async () => {
    await writeFile(join(dir, "patients.csv.gz"), gzipSync("patient_id,sex,date_of_birth\n5,male,2000-02-29\n"));
    expect(await new FileTableReader(dir).read(patients)).toEqual([[5, "2000-02-29", "male"]]);
  });

  it("treats a table with no file as empty, noting it on stderr once per table", async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    const reader = new FileTableReader(dir);
    expect(await reader.read(patients)).toEqual([]);
    expect(await reader.read(patients)).toEqual([]);
    expect(await reader.read(events)).toEqual([]);
    expect(writes).toEqual([
      `note: no file for table patients in ${dir}; treating it as empty\n`,
      `note: no file for table events in ${dir}; treating it as empty\n`,
    ]);
  });

  it("allows a patient many rows in an event table", async () => {
    const rows = await readText(events, "patient_id,date,code,value,n,flag,causes\n1,,,,1,,\n1,,,,2,,\n");
    expect(rows.length).toBe(2);
  });

  it("reads a header-only file as an empty table", async () => {
    expect(await readText(patients, "patient_id,date_of_birth,sex\n")).toEqual([]);
  });
});

describe("FileTableReader: errors name the file, line and column", () => {
  const header = "patient_id,date_of_birth,sex\n";

  it("a date that is not real", async () => {
    expect(await failure(patients, `${header}1,2000-01-01,f\n2,,m\n3,2020-13-01,f\n`)).toBe(
      'dummy_tables/patients.csv, line 4, column date_of_birth: "2020-13-01" is not a date (expected YYYY-MM-DD)',
    );
  });

  it("counts physical lines when a quoted cell spans lines", async () => {
    expect(await failure(patients, `${header}1,,"multi\nline\nsex"\n2,1.1.2000,f\n`)).toBe(
      'dummy_tables/patients.csv, line 5, column date_of_birth: "1.1.2000" is not a date (expected YYYY-MM-DD)',
    );
  });

  it("a bad int", async () => {
    expect(await failure(events, "patient_id,date,code,value,n,flag,causes\n1,,,,2.5,,\n")).toBe(
      'dummy_tables/events.csv, line 2, column n: "2.5" is not an integer (expected digits, optionally preceded by -)',
    );
  });

  it("a bad bool", async () => {
    expect(await failure(events, "patient_id,date,code,value,n,flag,causes\n1,,,,,Y,\n")).toBe(
      'dummy_tables/events.csv, line 2, column flag: "Y" is not a boolean (expected T or F)',
    );
  });

  it("a bad float", async () => {
    expect(await failure(events, "patient_id,date,code,value,n,flag,causes\n1,,,NaN,,,\n")).toBe(
      'dummy_tables/events.csv, line 2, column value: "NaN" is not a number (expected a finite decimal number such as 58 or -1.5)',
    );
  });

  it("a bad code", async () => {
    expect(await failure(events, "patient_id,date,code,value,n,flag,causes\n1,,X123,,,,\n")).toBe(
      'dummy_tables/events.csv, line 2, column code: "X123" is not a valid SNOMED CT code',
    );
  });

  it("a bad or empty patient_id", async () => {
    expect(await failure(patients, `${header}a,,\n`)).toBe(
      'dummy_tables/patients.csv, line 2, column patient_id: "a" is not an integer (expected digits, optionally preceded by -)',
    );
    expect(await failure(patients, `${header},,\n`)).toBe("dummy_tables/patients.csv, line 2, column patient_id: empty; every row needs a patient_id");
  });

  it("a patient twice in a patient table", async () => {
    expect(await failure(patients, `${header}1,,\n2,,\n1,,\n`)).toBe(
      "dummy_tables/patients.csv, line 4, column patient_id: patient 1 appears twice (also on line 2); patients has one row per patient",
    );
  });

  it("a missing schema column", async () => {
    expect(await failure(patients, "patient_id,sex\n1,f\n")).toBe(
      "dummy_tables/patients.csv, line 1: no column date_of_birth in the header (table patients needs patient_id, date_of_birth, sex)",
    );
  });

  it("a missing patient_id column", async () => {
    expect(await failure(patients, "id,date_of_birth,sex\n1,,\n")).toBe(
      "dummy_tables/patients.csv, line 1: no column patient_id in the header (table patients needs patient_id, date_of_birth, sex)",
    );
  });

  it("a column named twice in the header", async () => {
    expect(await failure(patients, "patient_id,sex,date_of_birth,sex\n")).toBe("dummy_tables/patients.csv, line 1: column sex appears twice in the header");
  });

  it("an unterminated quote, at the line it opens on", async () => {
    expect(await failure(patients, `${header}1,,f\n2,,"m\n3,,f\n`)).toBe("dummy_tables/patients.csv, line 3: a quoted cell is never closed (unterminated quote)");
  });

  it("a row with the wrong number of cells", async () => {
    expect(await failure(patients, `${header}1,,f\n2,\n`)).toBe("dummy_tables/patients.csv, line 3: expected 3 cells as in the header, found 2");
  });

  it("an empty file", async () => {
    expect(await failure(patients, "")).toBe(
      "dummy_tables/patients.csv: the file is empty; expected a header row naming patient_id and the table's columns",
    );
  });

  it("both a .csv and a .csv.gz for one table", async () => {
    await writeFile(join(dir, "patients.csv"), header);
    await writeFile(join(dir, "patients.csv.gz"), gzipSync(header));
    await expect(new FileTableReader(dir).read(patients)).rejects.toThrow(/both .*patients\.csv and .*patients\.csv\.gz exist for table patients; keep only one/);
  });

  it("a .csv.gz that is not gzip", async () => {
    await writeFile(join(dir, "patients.csv.gz"), header);
    await expect(new FileTableReader(dir).read(patients)).rejects.toThrow(/patients\.csv\.gz: not a valid gzip file/);
  });

  it("bytes that are not UTF-8", async () => {
    await writeFile(join(dir, "patients.csv"), Buffer.from([0x70, 0xff, 0x0a]));
    await expect(new FileTableReader(dir).read(patients)).rejects.toThrow(/patients\.csv: not valid UTF-8 text/);
  });
});

describe("RowsTableReader", () => {
  it("gives the rows of a table, and none for a missing table", async () => {
    const reader = new RowsTableReader({ patients: [[1, "2000-01-01", "f"]] });
    expect(await reader.read(patients)).toEqual([[1, "2000-01-01", "f"]]);
    expect(await reader.read(events)).toEqual([]);
  });

  it("refuses a row of the wrong width", async () => {
    await expect(new RowsTableReader({ patients: [[1, "f"]] }).read(patients)).rejects.toThrow(/row 1 of table patients has 2 values; expected 3/);
  });
});
