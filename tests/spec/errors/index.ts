import type { Chapter } from "../harness.js";
import * as errors from "./errors.js";

export const chapter: Chapter = { name: "errors", sections: [{ name: "refused at load time", ...errors }] };
