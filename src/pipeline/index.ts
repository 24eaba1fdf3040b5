// pipeline/: project.yaml, the action graph, the runner, the runtimes and the sandbox that actions run in, and codelists.

export { sandboxAvailable, sandboxed, type SandboxSpec } from "./sandbox.js";
export {
  type Action,
  type ActionGraph,
  CURRENT_VERSION,
  LEVEL4_EXTENSIONS,
  OUTPUT_LEVELS,
  type OutputLevel,
  type Problem,
  type Project,
  ProjectError,
  RUN_ALL,
  actionGraph,
  dependenciesOf,
  expandRunAll,
  formatProblem,
  isDatabaseAction,
  matchesPattern,
  nearest,
  outputPatterns,
  parseProject,
  patternProblem,
  patternsOverlap,
} from "./project.js";
export {
  ENCLAVE_ACTION_COMMANDS,
  ENCLAVE_DATABASE_COMMANDS,
  IMAGES,
  type RunCommand,
  RunCommandError,
  type Word,
  isDatabaseCommand,
  outputArgument,
  parseRunCommand,
  shellSplit,
  splitWords,
} from "./run-command.js";
export { type ActionExecutor, type ActionLimits, type ActionResult, type ActionRun, DEFAULT_LIMITS } from "./action.js";
export {
  type ActionOutcome,
  DEFAULT_CONCURRENCY,
  type RunEvent,
  type RunOptions,
  type RunSummary,
  RunnerError,
  jobIdFor,
  runPipeline,
} from "./runner.js";
export { NODE_V1_LIBRARIES, createActionExecutor, executeAction } from "./runtimes.js";
export { checkCodelists, codelistHash, readCodelistsTxt, updateCodelists } from "./codelists.js";
export { DefinitionError, type LoadOptions, loadDefinition, loadMeasuresDefinition } from "./definitions.js";
