import type { Chapter } from "../harness.js";
import * as horizontal from "./horizontal.js";

export const chapter: Chapter = { name: "horizontal", sections: [{ name: "maximumOf and minimumOf", ...horizontal }] };
