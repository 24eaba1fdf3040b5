// Options that several commands share.

import { InvalidArgumentError, Option } from "commander";

/** `--param name=value`, repeatable; collected into an object. */
export function paramOption(): Option {
  return new Option("--param <name=value>", "a parameter for the definition's getParameter(name); repeatable")
    .argParser(collectParam)
    .default({}, "none");
}

function collectParam(arg: string, previous: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(arg);
  if (m === null) throw new InvalidArgumentError("Expected name=value, where name starts with a letter or _ and holds only letters, digits, _ . -");
  const [, name, value] = m as unknown as [string, string, string];
  if (Object.hasOwn(previous, name)) throw new InvalidArgumentError(`Parameter ${name} is given twice.`);
  return { ...previous, [name]: value };
}
