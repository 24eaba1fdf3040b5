// Every command explains itself, and the command line's own mistakes exit with 2.

import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, enclave, ensureBuilt } from "./helpers.js";

beforeAll(ensureBuilt, 120_000);

describe.concurrent("enclave --help", { timeout: 30_000 }, () => {
  it("lists the commands", async () => {
    const r = await enclave(["--help"], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: enclave \[options\] \[command\]/);
    for (const command of ["generate-dataset", "generate-measures", "create-dummy-tables", "dump-dataset-definition", "dump-dataset-sql", "synth", "validate"]) {
      expect(r.stdout).toContain(command);
    }
  });

  for (const [command, options] of [
    ["generate-dataset", ["--output <file>", "--dummy-tables <dir>", "--dummy-data-file <file>", "--engine <name>", "--param <name=value>"]],
    ["dump-dataset-definition", ["--param <name=value>"]],
  ] as const) {
    it(`explains ${command}`, async () => {
      for (const args of [[command, "--help"], ["help", command]]) {
        const r = await enclave(args, { cwd: ROOT });
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: enclave ${command} \\[options\\] <definition>`));
        for (const option of options) expect(r.stdout).toContain(option);
      }
    });
  }

  it("prints its version", async () => {
    const r = await enclave(["--version"], { cwd: ROOT });
    expect([r.code, r.stdout]).toEqual([0, "0.1.0\n"]);
  });

  it("exits with 2 for an unknown command, an unknown option, a missing argument or no command", async () => {
    for (const args of [["frobnicate"], ["generate-dataset", "def.ts", "--frob"], ["generate-dataset"], []]) {
      const r = await enclave(args, { cwd: ROOT });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
