// Every chapter of the specification, in the order the docs read.

import type { Chapter } from "./harness.js";
import { chapter as seriesOps } from "./series_ops/index.js";
import { chapter as boolOps } from "./bool_ops/index.js";
import { chapter as intOps } from "./int_ops/index.js";
import { chapter as floatOps } from "./float_ops/index.js";
import { chapter as strOps } from "./str_ops/index.js";
import { chapter as dateOps } from "./date_ops/index.js";
import { chapter as codeOps } from "./code_ops/index.js";
import { chapter as aggregations } from "./aggregations/index.js";
import { chapter as filter } from "./filter/index.js";
import { chapter as sortAndPick } from "./sort_and_pick/index.js";
import { chapter as kase } from "./case/index.js";
import { chapter as horizontal } from "./horizontal/index.js";
import { chapter as tables } from "./tables/index.js";
import { chapter as population } from "./population/index.js";
import { chapter as parameters } from "./parameters/index.js";
import { chapter as errors } from "./errors/index.js";

export const CHAPTERS: Chapter[] = [
  seriesOps,
  boolOps,
  intOps,
  floatOps,
  strOps,
  dateOps,
  codeOps,
  aggregations,
  filter,
  sortAndPick,
  kase,
  horizontal,
  tables,
  population,
  parameters,
  errors,
];
