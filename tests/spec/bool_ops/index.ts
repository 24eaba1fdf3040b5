import type { Chapter } from "../harness.js";
import * as logic from "./logic.js";

export const chapter: Chapter = { name: "bool_ops", sections: [{ name: "logic", ...logic }] };
