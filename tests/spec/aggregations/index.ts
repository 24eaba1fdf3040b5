import type { Chapter } from "../harness.js";
import * as episodes from "./episodes.js";
import * as frames from "./frames.js";
import * as series from "./series.js";

export const chapter: Chapter = {
  name: "aggregations",
  sections: [
    { name: "frames", ...frames },
    { name: "series", ...series },
    { name: "episodes", ...episodes },
  ],
};
