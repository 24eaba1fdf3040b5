#!/usr/bin/env node
// The `enclave` command: runs the compiled CLI in ../dist (built by `npm run build`).

let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (e) {
  if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("main.js")) {
    process.stderr.write("error: Enclave is not built: run `npm run build` in its folder first\n");
    process.exit(1);
  }
  throw e;
}
process.exitCode = await cli.main(process.argv);
