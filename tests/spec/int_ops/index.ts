import type { Chapter } from "../harness.js";
import * as arithmetic from "./arithmetic.js";
import * as conversion from "./conversion.js";
import * as division from "./division.js";
import * as power from "./power.js";

export const chapter: Chapter = {
  name: "int_ops",
  sections: [
    { name: "arithmetic", ...arithmetic },
    { name: "division", ...division },
    { name: "power", ...power },
    { name: "conversion", ...conversion },
  ],
};
