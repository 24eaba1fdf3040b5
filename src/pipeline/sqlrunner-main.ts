// The process a sqlrunner:v1 action runs: `node dist/pipeline/sqlrunner-main.js QUERY.sql --output FILE.csv`.

import { runSqlrunner } from "./sqlrunner.js";

process.exitCode = await runSqlrunner(process.argv.slice(2), process.env);
