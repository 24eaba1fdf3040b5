import { QueryModelError } from "../querymodel/index.js";

/** An error in how the language was used, with the method and the types involved. */
export class EnclaveError extends Error {
  override name = "EnclaveError";
}

/** Runs a query-model constructor, putting the language method's name in front of any error. */
export function build<T>(method: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof QueryModelError) throw new EnclaveError(`${method}: ${e.message}`);
    throw e;
  }
}
