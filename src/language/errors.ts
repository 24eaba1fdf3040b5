/** An error in how the language was used, with the method and the types involved. */
export class EnclaveError extends Error {
  override name = "EnclaveError";
}
