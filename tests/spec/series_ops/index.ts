import type { Chapter } from "../harness.js";
import * as comparison from "./comparison.js";
import * as constants from "./constants.js";
import * as containment from "./containment.js";
import * as mapValues from "./map_values.js";
import * as nullHandling from "./null_handling.js";

export const chapter: Chapter = {
  name: "series_ops",
  sections: [
    { name: "comparison", ...comparison },
    { name: "null handling", ...nullHandling },
    { name: "containment", ...containment },
    { name: "mapValues", ...mapValues },
    { name: "constants", ...constants },
  ],
};
