// breach/: finding outputs that should never have been committed to a study's
// repository, in every commit of its history (scan), and removing them from
// every commit and ref (clean). The contract is ../shared/spec/breach.md.

export { type BreachRule, BREACH_RULES, type CommitInfo, type Finding, type ScanOptions, type ScanReport, type ScanResult, scanRepository } from "./scan.js";
export { formatReport } from "./report.js";
export { type BlobToRemove, type CleanMethod, type CleanPlan, type CleanResult, type PlanOptions, CleanRefused, cleanRepository, filterRepoInstalled, nextSteps, planClean, verifyGone } from "./clean.js";
export { type KnownOutput, type KnownOutputs, loadManifests, loadReleased } from "./known.js";
export { DEFAULT_CONTENT_LIMIT } from "./content.js";
export { BreachInputError, GitError } from "./git.js";
