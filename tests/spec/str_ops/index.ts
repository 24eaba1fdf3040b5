import type { Chapter } from "../harness.js";
import * as strings from "./strings.js";

export const chapter: Chapter = { name: "str_ops", sections: [{ name: "strings", ...strings }] };
