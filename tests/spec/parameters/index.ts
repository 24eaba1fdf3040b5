import type { Chapter } from "../harness.js";
import * as parameters from "./parameters.js";

export const chapter: Chapter = { name: "parameters", sections: [{ name: "getParameter", ...parameters }] };
