// What the commands that run a service until stopped share (`enclave agent`,
// `airlock`, `jobserver`, `serve`): the backend's token, which never comes from
// the command line, where `ps` shows it to every user of the machine; the port;
// and stopping on Ctrl-C or SIGTERM.

import * as fs from "node:fs";
import { UsageError, UserError } from "./errors.js";

/** The backend's token from `file`, else from ENCLAVE_BACKEND_TOKEN; `who` starts the message when neither is given ("the agent"). */
export function readBackendToken(file: string | undefined, who: string): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new UserError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const token = text.trim();
    if (token === "") throw new UserError(`the token file ${file} is empty`);
    return token;
  }
  const token = process.env.ENCLAVE_BACKEND_TOKEN?.trim();
  if (!token) throw new UsageError(`${who} needs the backend's token: set ENCLAVE_BACKEND_TOKEN, or give --token-file FILE (never on the command line, where ps shows it)`);
  return token;
}

/** --port as given (text, so that a bad one is shown as typed): 0 to 65535. */
export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(`--port ${JSON.stringify(value)}: give a port number from 0 to 65535`);
  return Number(value);
}

/** The error for a service that could not listen because its address is taken; undefined for any other. */
export function addressInUse(e: unknown, host: string, port: string): UserError | undefined {
  return (e as NodeJS.ErrnoException).code === "EADDRINUSE" ? new UserError(`${host}:${port} is in use: choose another --port`) : undefined;
}

/**
 * Resolves once the first SIGINT or SIGTERM has been answered by `stop`. While
 * stop runs, another signal quits at once (exit 130): stopping may wait for
 * running work, and a person pressing Ctrl-C twice means not to wait.
 * `message`, if any, goes to stderr at the first signal.
 */
export function stopOnSignal(stop: () => Promise<void>, message?: string): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      // After a Ctrl-C the terminal shows ^C: the message starts on a line of its own.
      if (message !== undefined) process.stderr.write(`${signal === "SIGINT" ? "\n" : ""}${message}\n`);
      void stop().then(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        resolve();
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
