// Things an action should not be able to do, one per mode: `probe.ts MODE ARG`.
// Each does it plainly, as hostile or careless code would, so that the sandbox
// (not this script) decides whether it fails.

import * as fs from "node:fs";
import * as net from "node:net";
import { spawn } from "node:child_process";

const [mode, arg] = process.argv.slice(2);

switch (mode) {
  case "read":
    process.stdout.write(`read: ${fs.readFileSync(arg!, "utf8")}\n`);
    break;
  case "write":
    fs.writeFileSync(arg!, "written by the action\n");
    console.log(`wrote ${arg}`);
    break;
  case "connect": {
    const socket = net.connect(Number(arg), "127.0.0.1");
    socket.on("connect", () => {
      console.log("connected");
      socket.end();
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      console.error(`cannot connect: ${e.code}`);
      process.exitCode = 3;
    });
    break;
  }
  case "secret": {
    // The environment, and every other process's environment it can see.
    const seen = [JSON.stringify(process.env)];
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        seen.push(fs.readFileSync(`/proc/${pid}/environ`, "utf8"));
      } catch {
        // Not readable.
      }
    }
    const found = seen.some((s) => s.includes("ENCLAVE_TEST_SECRET"));
    console.log(found ? `found: ${seen.join("\n")}` : "no secret here");
    if (!found) process.exit(1);
    break;
  }
  case "sleep": {
    // A process of its own that keeps writing, to show that the whole tree is killed.
    spawn("/bin/sh", ["-c", "while true; do date +%s%N > heartbeat.txt; sleep 0.1; done"], { stdio: "ignore" });
    setTimeout(() => console.log("woke up"), 600_000);
    break;
  }
  case "idle":
    setTimeout(() => console.log("woke up"), 600_000);
    break;
  case "alloc": {
    const keep: ArrayBuffer[] = [];
    for (let mb = 64; mb <= 8192; mb += 64) {
      keep.push(new ArrayBuffer(64 * 1024 * 1024));
      console.log(`allocated ${mb} MB`);
    }
    break;
  }
  case "spin": {
    const end = Date.now() + 60_000;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    console.log(x);
    break;
  }
  case "spawn":
    spawn("/bin/sh", ["-c", "echo spawned"], { stdio: "inherit" }).on("error", (e) => {
      console.error(`cannot spawn: ${(e as NodeJS.ErrnoException).code}`);
      process.exitCode = 4;
    });
    break;
  case "exit":
    console.log(`exiting with ${arg}`);
    process.exit(Number(arg));
    break;
  case "import":
    await import(arg!);
    console.log(`imported ${arg}`);
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
