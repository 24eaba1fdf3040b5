import type { Chapter } from "../harness.js";
import * as population from "./population.js";

export const chapter: Chapter = { name: "population", sections: [{ name: "definePopulation", ...population }] };
