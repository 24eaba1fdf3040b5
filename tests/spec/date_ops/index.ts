import type { Chapter } from "../harness.js";
import * as arithmetic from "./arithmetic.js";
import * as comparisons from "./comparisons.js";
import * as differences from "./differences.js";
import * as parts from "./parts.js";

export const chapter: Chapter = {
  name: "date_ops",
  sections: [
    { name: "parts", ...parts },
    { name: "arithmetic", ...arithmetic },
    { name: "differences", ...differences },
    { name: "comparisons", ...comparisons },
  ],
};
