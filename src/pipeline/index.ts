export { sandboxAvailable, sandboxed, type SandboxSpec } from "./sandbox.js";
