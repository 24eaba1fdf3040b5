import { loadContext } from "./context.js";
import { EnclaveError } from "./errors.js";

/**
 * A value given on the command line with `--param name=value` (always a string).
 * Without `default`, a missing parameter is an error.
 */
export function getParameter(name: string, options: { default?: string } = {}): string {
  if (typeof name !== "string" || name === "") throw new EnclaveError("getParameter(): give the parameter's name");
  const params = loadContext().params;
  if (Object.hasOwn(params, name)) return params[name]!;
  if (options.default !== undefined) return options.default;
  const given = Object.keys(params);
  throw new EnclaveError(
    `getParameter(${JSON.stringify(name)}): no value given; pass --param ${name}=VALUE` + (given.length ? ` (parameters given: ${given.join(", ")})` : ""),
  );
}
