import type { Chapter } from "../harness.js";
import * as where from "./where.js";

export const chapter: Chapter = { name: "filter", sections: [{ name: "where and exceptWhere", ...where }] };
