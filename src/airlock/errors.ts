// What the airlock refuses, as a short hierarchy, so that the HTTP layer can
// turn each kind into one status code in one place. Every message says what
// was refused, where (request, file, group) and why.

export class AirlockError extends Error {
  override name = "AirlockError";
}

/** No such request, group, file or comment. */
export class NotFound extends AirlockError {
  override name = "NotFound";
}

/** The actor's role relative to the request does not allow it. */
export class PermissionDenied extends AirlockError {
  override name = "PermissionDenied";
}

/** The transition table has no such move. */
export class InvalidTransition extends AirlockError {
  override name = "InvalidTransition";
}

/** The state and the actor allow it, but the request's content does not yet (a missing comment, vote, confirmation). */
export class RuleViolation extends AirlockError {
  override name = "RuleViolation";
}

/** The workspace is archived or its project is no longer ongoing: requests stay viewable but nobody may change them. */
export class Blocked extends AirlockError {
  override name = "Blocked";
}

/** A file's bytes are not those the manifest, the request or the job server says they are. */
export class ContentMismatch extends AirlockError {
  override name = "ContentMismatch";
}
