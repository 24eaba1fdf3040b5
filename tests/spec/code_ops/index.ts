import type { Chapter } from "../harness.js";
import * as categories from "./categories.js";
import * as codes from "./codes.js";
import * as multiCodes from "./multi_codes.js";

export const chapter: Chapter = {
  name: "code_ops",
  sections: [
    { name: "codes", ...codes },
    { name: "categories", ...categories },
    { name: "multi-code strings", ...multiCodes },
  ],
};
