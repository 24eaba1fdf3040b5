// `enclave agent` as main.ts will run it, for tests that need the agent in a
// process of its own (to kill it, or to send it Ctrl-C): the built command
// registered on a program of its own, so that no test depends on main.ts.

import { Command, CommanderError } from "commander";

const { registerAgent } = await import("../../dist/cli/agent.js");
const program = new Command("enclave").exitOverride();
registerAgent(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e?.name === "UsageError" ? 2 : 1);
}
