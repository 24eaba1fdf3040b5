// `enclave airlock`'s refusals before it starts: no token (never taken from
// the command line), an empty token file, a folder that is not the agent's, a
// port that is not one. (Starting it for real is what the web tests do,
// through startAirlockServer.)

import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { registerAirlock } from "../../src/cli/airlock.js";
import { UsageError, UserError } from "../../src/cli/errors.js";
import { tmp } from "./helpers.js";

function run(args: string[]): Promise<unknown> {
  const program = new Command("enclave").exitOverride();
  registerAirlock(program);
  return program.parseAsync(["node", "enclave", "airlock", ...args]).then(
    () => undefined,
    (e: unknown) => e,
  );
}

const saved = process.env.ENCLAVE_BACKEND_TOKEN;
afterEach(() => {
  if (saved === undefined) delete process.env.ENCLAVE_BACKEND_TOKEN;
  else process.env.ENCLAVE_BACKEND_TOKEN = saved;
});

describe("enclave airlock", () => {
  const agentDir = fs.mkdtempSync(path.join(tmp, "agent-"));
  fs.mkdirSync(path.join(agentDir, "workspaces"));
  const base = ["--job-server", "http://127.0.0.1:1", "--backend", "tpp", "--agent-dir", agentDir, "--dir", path.join(tmp, "airlock-cli")];

  it("needs the backend's token from the environment or a file, never an option", async () => {
    delete process.env.ENCLAVE_BACKEND_TOKEN;
    const e = await run(base);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/set ENCLAVE_BACKEND_TOKEN, or give --token-file FILE/);
    const unknown = await run([...base, "--token", "secret"]);
    expect((unknown as Error).message).toMatch(/unknown option '--token'/);
    const empty = path.join(tmp, "empty-token");
    fs.writeFileSync(empty, "\n");
    expect(((await run([...base, "--token-file", empty])) as Error).message).toBe(`the token file ${empty} is empty`);
  });

  it("refuses a folder that is not the agent's, and a port that is not one", async () => {
    process.env.ENCLAVE_BACKEND_TOKEN = "t";
    const notAgent = fs.mkdtempSync(path.join(tmp, "not-agent-"));
    const e = await run(["--job-server", "http://127.0.0.1:1", "--backend", "tpp", "--agent-dir", notAgent, "--dir", path.join(tmp, "x")]);
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toMatch(/has no workspaces\/ folder/);
    expect(((await run([...base, "--port", "99999"])) as Error).message).toMatch(/give a port number from 0 to 65535/);
  });
});
