import type { Chapter } from "../harness.js";
import * as sort from "./sort.js";
import * as ties from "./ties.js";

export const chapter: Chapter = {
  name: "sort_and_pick",
  sections: [
    { name: "sortBy, first and last", ...sort },
    { name: "ties", ...ties },
  ],
};
