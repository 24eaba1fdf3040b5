import type { Chapter } from "../harness.js";
import * as inline from "./inline.js";

export const chapter: Chapter = { name: "tables", sections: [{ name: "inline tables", ...inline }] };
