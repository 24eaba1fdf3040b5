import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FileTableReader, parseCsv, writeDataset } from "../../../src/engines/files/index.js";
import type { Row } from "../../../src/engines/types.js";

const columns = [
  { name: "patient_id", type: "int" },
  { name: "age", type: "int" },
  { name: "bmi", type: "float" },
  { name: "alive", type: "bool" },
  { name: "dob", type: "date" },
  { name: "note", type: "str" },
];

async function* batchesOf(...batches: Row[][]): AsyncIterable<Row[]> {
  for (const b of batches) yield b;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "enclave-writer-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe("writeDataset", () => {
  it("writes a header, then each row with the cell conventions", async () => {
    const target = join(dir, "out.csv");
    const result = await writeDataset(target, columns, batchesOf([[1, 7, 2, true, "2000-01-02", "x"]], [[2, null, 22.5, false, null, null]], []));
    expect(result).toEqual({ rows: 2 });
    expect(await readFile(target, "utf8")).toBe("patient_id,age,bmi,alive,dob,note\n1,7,2.0,T,2000-01-02,x\n2,,22.5,F,,\n");
  });

  it("quotes strings with commas, quotes and line breaks so they read back unchanged", async () => {
    const target = join(dir, "quoted.csv");
    const notes = ["a,b", 'say "hi"', "two\nlines", "cr\r\nlf", "plain", "  spaced  "];
    await writeDataset(target, columns, batchesOf(notes.map((n, i): Row => [i + 1, null, null, null, null, n])));
    const records = [...parseCsv(await readFile(target, "utf8"))];
    expect(records.slice(1).map((r) => r.cells[5])).toEqual(notes);
    // And through the table reader, with its types.
    const back = await new FileTableReader(dir).read({ name: "quoted", schema: { note: "str" }, patientLevel: true });
    expect(back.map((r) => r[1])).toEqual(notes);
  });

  it("writes gzip for .csv.gz, readable back as a table file", async () => {
    const target = join(dir, "nested", "deeper", "dataset.csv.gz");
    const rows: Row[] = [
      [1, 30, 18.25, true, "1990-05-06", "x,y"],
      [2, -1, 1e-7, null, null, ""],
    ];
    expect(await writeDataset(target, columns, batchesOf(rows))).toEqual({ rows: 2 });
    const text = gunzipSync(await readFile(target)).toString("utf8");
    expect(text).toBe('patient_id,age,bmi,alive,dob,note\n1,30,18.25,T,1990-05-06,"x,y"\n2,-1,1e-7,,,\n');
    const reader = new FileTableReader(join(dir, "nested", "deeper"));
    const back = await reader.read({ name: "dataset", schema: { age: "int", bmi: "float", alive: "bool", dob: "date", note: "str" }, patientLevel: true });
    // The empty string comes back as NULL: an empty cell is NULL.
    expect(back).toEqual([rows[0], [2, -1, 1e-7, null, null, null]]);
  });

  it("creates the parent folder", async () => {
    const target = join(dir, "a", "b", "c.csv");
    await writeDataset(target, columns.slice(0, 1), batchesOf([[3]]));
    expect(await readFile(target, "utf8")).toBe("patient_id\n3\n");
  });

  it("refuses an unsupported ending, listing the supported ones, and writes nothing", async () => {
    await expect(writeDataset(join(dir, "out.txt"), columns, batchesOf())).rejects.toThrow(/supported endings are \.csv\.gz, \.csv, \.arrow, \.parquet/);
    await expect(writeDataset(join(dir, "out.feather"), columns, batchesOf())).rejects.toThrow(/out\.feather/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("leaves no target and no temporary file when the batches fail midway", async () => {
    const target = join(dir, "out.csv");
    async function* failing(): AsyncIterable<Row[]> {
      yield [[1, 1, 1, true, "2020-01-01", "a"]];
      throw new Error("the engine broke");
    }
    await expect(writeDataset(target, columns, failing())).rejects.toThrow("the engine broke");
    expect(await readdir(dir)).toEqual([]);
  });

  it("leaves an existing target untouched when writing fails", async () => {
    const target = join(dir, "out.csv.gz");
    await writeFile(target, "previous");
    // A value of the wrong type is a bug upstream: the write fails.
    await expect(writeDataset(target, columns, batchesOf([[1, 1.5, null, null, null, null]]))).rejects.toThrow(/not a value of type int/);
    expect(await readFile(target, "utf8")).toBe("previous");
    expect(await readdir(dir)).toEqual(["out.csv.gz"]);
  });

  it("refuses a row of the wrong width", async () => {
    await expect(writeDataset(join(dir, "w.csv"), columns, batchesOf([[1, 2]]))).rejects.toThrow(/a row has 2 values for 6 columns/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("writes many batches in order", async () => {
    const target = join(dir, "big.csv");
    let pulled = 0;
    const big: Row[] = Array.from({ length: 1000 }, (_, i) => [i, i, i / 4, i % 2 === 0, "2020-01-01", "n".repeat(50)]);
    async function* many(): AsyncIterable<Row[]> {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield big;
      }
    }
    expect(await writeDataset(target, columns, many())).toEqual({ rows: 50_000 });
    expect(pulled).toBe(50);
    const text = await readFile(target, "utf8");
    expect(text.split("\n").length).toBe(50_002); // header, rows, and the final empty piece
    expect(text.split("\n")[5]).toBe("4,4,1.0,T,2020-01-01," + "n".repeat(50));
  });

  it("writes to stdout when the target is null, leaving stdout open", async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown, enc?: unknown, cb?: unknown) => {
      out.push(String(chunk));
      const done = typeof enc === "function" ? enc : cb;
      if (typeof done === "function") done();
      return true;
    }) as typeof process.stdout.write);
    const result = await writeDataset(null, columns.slice(0, 2), batchesOf([[1, 2]], [[3, null]]));
    expect(result).toEqual({ rows: 2 });
    expect(out.join("")).toBe("patient_id,age\n1,2\n3,\n");
    expect(process.stdout.writableEnded).toBe(false);
  });

  it("waits for a full output to drain before pulling the next batch", async () => {
    const events: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown) => {
      events.push(`write ${String(chunk).trim().split("\n").length}`);
      // Report a full buffer, and drain a little later.
      setTimeout(() => {
        events.push("drain");
        process.stdout.emit("drain");
      }, 5);
      return false;
    }) as typeof process.stdout.write);
    async function* pulls(): AsyncIterable<Row[]> {
      for (let i = 0; i < 3; i++) {
        events.push("pull");
        yield [[i, i], [i + 10, i]];
      }
    }
    await writeDataset(null, columns.slice(0, 2), pulls());
    // The header waits for the first batch; after that, one batch per drained write.
    expect(events).toEqual(["pull", "write 1", "drain", "write 2", "drain", "pull", "write 2", "drain", "pull", "write 2", "drain"]);
  });

  it("writes nothing to stdout when the engine fails before its first batch", async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write);
    const failing: AsyncIterable<Row[]> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("bad table file")) }),
    };
    await expect(writeDataset(null, columns.slice(0, 2), failing)).rejects.toThrow("bad table file");
    expect(written).toEqual([]);
  });
});
