// pipeline/: project.yaml, the action graph, and the sandbox that actions run in.

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
