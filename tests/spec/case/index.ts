import type { Chapter } from "../harness.js";
import * as kase from "./case.js";

export const chapter: Chapter = { name: "case", sections: [{ name: "when, then, otherwise", ...kase }] };
