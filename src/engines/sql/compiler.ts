// One SQL compiler for every database: a query model in, a list of statements
// out. The shape suits large data:
//
//  * every aggregation, picked row, inline table and long codelist becomes a
//    temporary table keyed by patient_id, built once and joined where needed;
//  * the final SELECT walks the patient universe and LEFT JOINs those tables;
//  * first/last rows come from ROW_NUMBER() windows;
//  * no node's SQL is written more than once inside one expression (an argument
//    a template needs twice is bound once in a scalar subquery), so the SQL
//    grows linearly with the definition.
//
// For measures, every interval is computed in the same statements: the
// interval's dates are two parameters, read from a small table of intervals
// joined to the rows; whatever depends on them is keyed by (patient_id,
// interval_id), everything else by patient_id alone, so each table is read
// once however many intervals there are (ehrQL reruns the query per interval).
//
// The reference for what every node means is engines/memory and
// querymodel/semantics.ts; every spec case runs on both.

import {
  type Aggregate,
  applyFunction,
  type Case,
  type Dataset,
  type Frame,
  type FunctionCall,
  type ManyRowsFrame,
  type Node,
  type PickOneRowPerPatient,
  type Scalar,
  type ScalarType,
  type SelectTable,
  type Series,
  type SeriesType,
  domainOf,
  elementType,
  isPatientLevel,
  isStringLikeType,
  nodeId,
  tablesRequiredFor,
  children,
  walk,
} from "../../querymodel/index.js";
import type { Dialect } from "./dialect.js";

export interface CompiledQuery {
  /** Statements that build the temporary tables, in order. */
  setup: string[];
  /** The query whose rows are the dataset: patient_id, then the variables. */
  select: string;
  /** Statements that drop what setup made. */
  cleanup: string[];
  /** Every stored table the query reads (for checks such as permissions and opt-outs). */
  tables: string[];
}

/** Options that change the population (opt-out rules are applied by the engine). */
export interface CompileOptions {
  /** Extra conditions ANDed into the population, as SQL over the universe alias `u`. */
  populationFilters?: string[];
  /** Prefix for temporary table names. */
  prefix?: string;
  /**
   * Run once for many intervals: the parameters named `parameters` take each
   * interval's start and end date; the select then yields patient_id,
   * interval_id (the interval's index), then the variables, in no set order.
   */
  intervals?: IntervalOptions;
}

export interface IntervalOptions {
  readonly parameters: readonly [start: string, end: string];
  readonly values: readonly (readonly [string, string])[];
}

/** Codelists longer than this go into a temporary table instead of an IN list. */
const LONG_SET = 20;
/** Arguments shorter than this are simple enough to write twice. */
const SHORT_SQL = 80;
/** Per-interval series shorter than this are written inline where used, not kept in a table. */
const LONG_SQL = 2000;

interface Ctx {
  /** SQL for the current row's patient id. */
  readonly pid: string;
  /** Alias of the many-rows table row in scope, if any. */
  readonly row: string | null;
  /** LEFT JOINs this query needs, by alias. */
  readonly joins: Map<string, string>;
  /** Alias of the interval row in scope (measures), if the expression depends on it. */
  readonly interval: string | null;
  /** The table the query's rows come from as `u`, when it is not the universe (see compile). */
  readonly driving?: Source;
}

interface Source {
  /** The temporary (or stored) table. */
  table: string;
  /** Value column, for aggregations and hoisted series. */
  value?: string;
  /** Keyed by (patient_id, interval_id): it depends on the interval. */
  byInterval?: boolean;
}

export function compileDataset(dialect: Dialect, dataset: Dataset, options: CompileOptions = {}): CompiledQuery {
  return new Compiler(dialect, dataset, options).compile();
}

class Compiler {
  private readonly setup: string[] = [];
  private readonly temps: string[] = [];
  private readonly sources = new Map<number, Source>();
  private readonly pickColumns = new Map<number, Set<string>>();
  private readonly uses = new Map<number, number>();
  private counter = 0;
  private readonly prefix: string;
  private universe = "";
  private intervals = "";
  private readonly dependent = new Map<number, boolean>();

  constructor(
    private readonly d: Dialect,
    private readonly dataset: Dataset,
    private readonly options: CompileOptions,
  ) {
    this.prefix = options.prefix ?? "enc";
  }

  compile(): CompiledQuery {
    const roots: Node[] = [this.dataset.population, ...this.dataset.variables.map((v) => v.series)];
    const nodes = walk(roots);
    // The columns of each picked row that the definition reads: they are the
    // row's tie-breakers, and the only columns its temporary table keeps.
    for (const n of nodes) {
      if (n.kind === "SelectColumn" && n.source.kind === "PickOneRowPerPatient") {
        const id = nodeId(n.source);
        if (!this.pickColumns.has(id)) this.pickColumns.set(id, new Set());
        this.pickColumns.get(id)!.add(n.name);
      }
      for (const c of children(n)) this.uses.set(nodeId(c), (this.uses.get(nodeId(c)) ?? 0) + 1);
    }
    const tables = new Map<string, string>();
    for (const n of nodes) if (n.kind === "SelectTable" || n.kind === "SelectPatientTable") tables.set(n.name, n.name);
    this.buildUniverse(nodes);
    if (this.options.intervals) this.buildIntervals(this.options.intervals);

    const perInterval = this.options.intervals !== undefined;
    // Over intervals, a population that needs a per-interval aggregation's row
    // (registered on the interval's start, say) takes its rows from that
    // aggregation's table rather than from every patient in every interval.
    const driving = perInterval ? this.requiredPerInterval(this.dataset.population) : undefined;
    const ctx: Ctx = { pid: "u.patient_id", row: null, joins: new Map(), interval: perInterval ? "i" : null, driving };
    const population = this.expr(this.dataset.population, ctx);
    const columns = this.dataset.variables.map((v) => `${this.expr(v.series, ctx)} AS ${this.d.quote(v.name)}`);
    const where = [population, ...(this.options.populationFilters ?? [])].map((c) => `(${c})`).join(" AND ");
    const select = perInterval
      ? `SELECT u.patient_id AS patient_id, i.interval_id AS interval_id${columns.map((c) => `, ${c}`).join("")}\n` +
        (driving
          ? `FROM ${this.d.quote(driving.table)} AS u\nJOIN ${this.d.quote(this.intervals)} AS i ON i.interval_id = u.interval_id`
          : `FROM ${this.d.quote(this.universe)} AS u\nCROSS JOIN ${this.d.quote(this.intervals)} AS i`) +
        `${joinSql(ctx)}\nWHERE ${where}`
      : `SELECT u.patient_id AS patient_id${columns.map((c) => `, ${c}`).join("")}\n` +
        `FROM ${this.d.quote(this.universe)} AS u${joinSql(ctx)}\n` +
        `WHERE ${where}\nORDER BY u.patient_id`;
    return { setup: this.setup, select, cleanup: this.temps.map((t) => this.d.dropTempTable(t)).reverse(), tables: [...tables.keys()] };
  }

  private temp(kind: string): string {
    const name = `${this.prefix}_${kind}_${++this.counter}`;
    this.temps.push(name);
    return name;
  }

  // ---- the patient universe: everyone in any table the query reads ----------

  private buildUniverse(nodes: Node[]): void {
    const parts: string[] = [];
    const seen = new Set<string>();
    // When the population needs a row in some table, only that table's patients
    // can be in it: read one table (a patient-level one if possible), not all.
    const required = tablesRequiredFor(this.dataset.population);
    const candidates = nodes.filter((n): n is SelectTable | Extract<Node, { kind: "SelectPatientTable" }> => (n.kind === "SelectTable" || n.kind === "SelectPatientTable") && required.has(n.name));
    const best = candidates.find((n) => n.kind === "SelectPatientTable") ?? candidates[0];
    if (best) {
      this.universe = this.temp("universe");
      const distinct = best.kind === "SelectPatientTable" ? "" : "DISTINCT ";
      this.setup.push(...this.d.createTempTableAs(this.universe, `SELECT ${distinct}patient_id FROM ${this.d.quote(best.name)}`));
      return;
    }
    for (const n of nodes) {
      if (n.kind === "SelectTable" || n.kind === "SelectPatientTable") {
        if (seen.has(n.name)) continue;
        seen.add(n.name);
        parts.push(`SELECT patient_id FROM ${this.d.quote(n.name)}`);
      } else if (n.kind === "InlinePatientTable") {
        parts.push(`SELECT patient_id FROM ${this.d.quote(this.source(n).table)}`);
      }
    }
    this.universe = this.temp("universe");
    // UNION removes duplicates between tables; DISTINCT within the only one.
    const select =
      parts.length === 0
        ? `SELECT ${this.d.literal(null, "int")} AS patient_id WHERE FALSE`
        : parts.length === 1
          ? parts[0]!.replace(/^SELECT /, "SELECT DISTINCT ")
          : parts.join("\nUNION\n");
    this.setup.push(...this.d.createTempTableAs(this.universe, select));
  }

  private buildIntervals(o: IntervalOptions): void {
    this.intervals = this.temp("intervals");
    this.setup.push(this.d.createTempTable(this.intervals, [["interval_id", "int"], ["interval_start", "date"], ["interval_end", "date"]]));
    const rows = o.values.map(([s, e], k) => `(${this.d.intLiteral(k)}, ${this.d.literal(s, "date")}, ${this.d.literal(e, "date")})`);
    for (let k = 0; k < rows.length; k += 500) this.setup.push(`INSERT INTO ${this.d.quote(this.intervals)} VALUES ${rows.slice(k, k + 500).join(", ")}`);
  }

  /** The table of a per-interval Exists that the population needs to be true, if there is one. */
  private requiredPerInterval(population: Series): Source | undefined {
    const conjuncts = (s: Series): Series[] => (s.kind === "Function" && s.fn === "And" ? s.args.flatMap(conjuncts) : [s]);
    const needed = conjuncts(population).find((c) => c.kind === "Aggregate" && c.fn === "Exists" && !isPatientFrame(c.source) && this.dependsOnInterval(c));
    return needed ? this.source(needed as Aggregate) : undefined;
  }

  /** Does the node read the interval's dates (directly or through anything below it)? */
  private dependsOnInterval(n: Node): boolean {
    const params = this.options.intervals?.parameters;
    if (!params) return false;
    const id = nodeId(n);
    let known = this.dependent.get(id);
    if (known === undefined) {
      known = n.kind === "Parameter" ? params.includes(n.name) : children(n).some((c) => this.dependsOnInterval(c));
      this.dependent.set(id, known);
    }
    return known;
  }

  // ---- series -----------------------------------------------------------------

  /** SQL for a series in a context. */
  private expr(s: Series, ctx: Ctx): string {
    // A patient-level result that several parents use is computed once, into a
    // temporary table, so shared subexpressions never multiply the SQL.
    if ((s.kind === "Function" || s.kind === "Case") && (this.uses.get(nodeId(s)) ?? 0) > 1 && isPatientLevel(s)) {
      const known = this.sources.get(nodeId(s));
      if (known) return `${this.join(known, ctx)}.value`;
      const byInterval = this.dependsOnInterval(s);
      const own: Ctx = { pid: "u.patient_id", row: null, joins: new Map(), interval: byInterval ? "i" : null };
      const sql = this.exprInline(s, own);
      // A per-interval table has a row per patient and interval: only worth it for long SQL.
      if (sql.length <= (byInterval ? LONG_SQL : SHORT_SQL)) return this.exprInline(s, ctx);
      const name = this.temp("var");
      const from = byInterval
        ? `, i.interval_id AS interval_id, ${sql} AS value FROM ${this.d.quote(this.universe)} AS u CROSS JOIN ${this.d.quote(this.intervals)} AS i`
        : `, ${sql} AS value FROM ${this.d.quote(this.universe)} AS u`;
      this.setup.push(...this.d.createTempTableAs(name, `SELECT u.patient_id AS patient_id${from}${joinSql(own)}`));
      const src: Source = { table: name, value: "value", byInterval };
      this.sources.set(nodeId(s), src);
      return `${this.join(src, ctx)}.value`;
    }
    return this.exprInline(s, ctx);
  }

  private exprInline(s: Series, ctx: Ctx): string {
    // What does not depend on the patient is worked out here, once, by the reference semantics.
    if (s.kind === "Function") {
      const c = constant(s);
      if (c !== undefined) return this.d.literal(c, s.type as ScalarType);
    }
    switch (s.kind) {
      case "Value":
        return this.value(s.value, s.type, ctx);
      case "Parameter": {
        const at = this.options.intervals?.parameters.indexOf(s.name) ?? -1;
        if (at < 0 || !ctx.interval) throw new Error(`parameter ${JSON.stringify(s.name)} has no value`);
        return `${ctx.interval}.${at === 0 ? "interval_start" : "interval_end"}`;
      }
      case "SelectColumn":
        return this.column(s.source, s.name, ctx);
      case "Aggregate":
        return this.aggregateRef(s, ctx);
      case "Function":
        return this.fn(s, ctx);
      case "Case":
        return this.caseExpr(s, ctx);
    }
  }

  private value(v: Scalar | readonly Scalar[], t: SeriesType, ctx: Ctx): string {
    if (Array.isArray(v)) {
      // Sets only appear as the right side of In; see `inSet`.
      void ctx;
      throw new Error("internal: a set value outside In");
    }
    return this.d.literal(v as Scalar, t as ScalarType);
  }

  private column(frame: Frame, name: string, ctx: Ctx): string {
    switch (frame.kind) {
      case "SelectTable":
      case "Filter":
      case "Sort":
        if (!ctx.row) throw new Error("internal: an event-level column outside a frame query");
        return `${ctx.row}.${this.d.quote(name)}`;
      case "SelectPatientTable": {
        const alias = this.joinStored(frame.name, ctx);
        return `${alias}.${this.d.quote(name)}`;
      }
      case "InlinePatientTable":
      case "PickOneRowPerPatient": {
        const src = this.source(frame);
        return `${this.join(src, ctx)}.${this.d.quote(name)}`;
      }
    }
  }

  private joinStored(table: string, ctx: Ctx): string {
    const alias = `t_${table}`;
    if (!ctx.joins.has(alias)) ctx.joins.set(alias, `LEFT JOIN ${this.d.quote(table)} AS ${this.d.quote(alias)} ON ${this.d.quote(alias)}.patient_id = ${ctx.pid}`);
    return this.d.quote(alias);
  }
  private join(src: Source, ctx: Ctx): string {
    if (src === ctx.driving) return "u";
    const t = this.d.quote(src.table);
    if (!ctx.joins.has(src.table)) {
      if (src.byInterval && !ctx.interval) throw new Error("internal: a per-interval table joined outside an interval");
      const sameInterval = src.byInterval ? ` AND ${t}.interval_id = ${ctx.interval}.interval_id` : "";
      ctx.joins.set(src.table, `LEFT JOIN ${t} ON ${t}.patient_id = ${ctx.pid}${sameInterval}`);
    }
    return t;
  }

  private aggregateRef(a: Aggregate, ctx: Ctx): string {
    if (a.fn === "CombineAsSet") throw new Error("internal: a set outside In");
    // Exists and Count of a one-row-per-patient frame: is there a row?
    if ((a.fn === "Exists" || a.fn === "Count") && isPatientFrame(a.source)) {
      const alias = a.source.kind === "SelectPatientTable" ? this.joinStored(a.source.name, ctx) : this.join(this.source(a.source), ctx);
      const present = `(${alias}.patient_id IS NOT NULL)`;
      return a.fn === "Exists" ? present : `(CASE WHEN ${present} THEN ${this.d.intLiteral(1)} ELSE ${this.d.intLiteral(0)} END)`;
    }
    const src = this.source(a);
    const ref = `${this.join(src, ctx)}.${this.d.quote(src.value!)}`;
    // Patients with no rows are absent from the aggregate's table: these never give NULL.
    if (a.fn === "Exists") return `COALESCE(${ref}, FALSE)`;
    if (a.fn === "Count" || a.fn === "CountDistinct" || a.fn === "CountEpisodes") return `COALESCE(${ref}, ${this.d.intLiteral(0)})`;
    return ref;
  }

  private caseExpr(c: Case, ctx: Ctx): string {
    // whenNullThen: CASE WHEN x IS NULL THEN y ELSE x END is COALESCE(x, y), with x written once.
    const only = c.cases.length === 1 ? c.cases[0]! : undefined;
    if (
      only &&
      only.then &&
      c.otherwise &&
      only.when.kind === "Function" &&
      only.when.fn === "IsNull" &&
      nodeId(only.when.args[0]!) === nodeId(c.otherwise)
    ) {
      return `COALESCE(${this.expr(c.otherwise, ctx)}, ${this.expr(only.then, ctx)})`;
    }
    const t = c.type as ScalarType;
    const branches = c.cases.map((b) => `WHEN ${this.expr(b.when, ctx)} THEN ${b.then ? this.expr(b.then, ctx) : this.d.literal(null, t)}`);
    const otherwise = c.otherwise ? this.expr(c.otherwise, ctx) : this.d.literal(null, t);
    return `(CASE ${branches.join(" ")} ELSE ${otherwise} END)`;
  }

  /**
   * Writes `template` with each argument available as a reference; an argument
   * that is not short is bound once in a scalar subquery, so templates that
   * need an argument several times do not copy its SQL.
   */
  private reuse(args: string[], template: (refs: string[]) => string): string {
    const long = args.map((a) => a.length > SHORT_SQL);
    if (!long.some(Boolean)) return template(args);
    const alias = `_r${++this.counter}`;
    const refs = args.map((a, i) => (long[i] ? `${alias}.a${i}` : a));
    const binds = args.map((a, i) => (long[i] ? `${a} AS a${i}` : null)).filter(Boolean);
    return `(SELECT ${template(refs)} FROM (SELECT ${binds.join(", ")}) AS ${alias})`;
  }

  private fn(f: FunctionCall, ctx: Ctx): string {
    const d = this.d;
    if (f.fn === "In") return this.inSet(f, ctx);
    const a = f.args.map((x) => this.expr(x, ctx));
    const t = f.args[0]!.type;
    const str = (x: string) => (isStringLikeType(t) ? d.collate(x) : x);
    const zero = (x: string) => `NULLIF(${x}, ${f.args[1]!.type === "float" ? d.floatLiteral(0) : d.intLiteral(0)})`;
    switch (f.fn) {
      case "EQ":
        return `(${a[0]} = ${a[1]})`;
      case "NE":
        return `(${a[0]} <> ${a[1]})`;
      case "LT":
        return `(${str(a[0]!)} < ${str(a[1]!)})`;
      case "LE":
        return `(${str(a[0]!)} <= ${str(a[1]!)})`;
      case "GT":
        return `(${str(a[0]!)} > ${str(a[1]!)})`;
      case "GE":
        return `(${str(a[0]!)} >= ${str(a[1]!)})`;
      case "And":
        return `(${a[0]} AND ${a[1]})`;
      case "Or":
        return `(${a[0]} OR ${a[1]})`;
      case "Not":
        return `(NOT ${a[0]})`;
      case "IsNull":
        return `(${a[0]} IS NULL)`;
      case "Negate":
        return `(-(${a[0]}))`;
      case "Absolute":
        return `ABS(${a[0]})`;
      case "Add":
        return `(${a[0]} + ${a[1]})`;
      case "Subtract":
        return `(${a[0]} - ${a[1]})`;
      case "Multiply":
        return `(${a[0]} * ${a[1]})`;
      case "TrueDivide":
        return `(${d.castToFloat(a[0]!)} / ${zero(d.castToFloat(a[1]!))})`;
      case "FloorDivide":
        return d.truncToInt(d.floor(`(${d.castToFloat(a[0]!)} / ${zero(d.castToFloat(a[1]!))})`));
      case "Power":
        // Zero to a negative power, and a negative base to a fractional power, are NULL.
        return this.reuse([d.castToFloat(a[0]!), d.castToFloat(a[1]!)], ([x, y]) =>
          `(CASE WHEN ${x} = 0 AND ${y} < 0 THEN NULL WHEN ${x} < 0 AND ${y} <> ${d.floor(y!)} THEN NULL ELSE POWER(${x}, ${y}) END)`,
        );
      case "CastToInt":
        return t === "bool" ? d.boolToInt(a[0]!) : t === "int" ? a[0]! : d.truncToInt(a[0]!);
      case "CastToFloat":
        return t === "bool" ? d.castToFloat(d.boolToInt(a[0]!)) : d.castToFloat(a[0]!);
      case "StringContains":
        return d.contains(a[0]!, a[1]!);
      case "YearFromDate":
        return d.datePart(a[0]!, "YEAR");
      case "MonthFromDate":
        return d.datePart(a[0]!, "MONTH");
      case "DayFromDate":
        return d.datePart(a[0]!, "DAY");
      case "ToFirstOfYear":
        return d.firstOfYear(a[0]!);
      case "ToFirstOfMonth":
        return d.firstOfMonth(a[0]!);
      case "DateAddDays":
        return d.addDays(a[0]!, a[1]!);
      case "DateAddMonths":
        return this.reuse([a[0]!, a[1]!], ([x, n]) => d.addMonths(x!, n!));
      case "DateAddYears":
        return this.reuse([a[0]!, `(${a[1]} * ${d.intLiteral(12)})`], ([x, n]) => d.addMonths(x!, n!));
      case "DateDifferenceInDays":
        return d.diffDays(a[0]!, a[1]!);
      case "DateDifferenceInMonths":
        // Whole calendar months: a month counts once its day of the month is reached.
        return this.reuse([a[0]!, a[1]!], ([e, s]) => {
          const [ey, em, ed] = (["YEAR", "MONTH", "DAY"] as const).map((p) => d.datePart(e!, p));
          const [sy, sm, sd] = (["YEAR", "MONTH", "DAY"] as const).map((p) => d.datePart(s!, p));
          return `((${ey} - ${sy}) * 12 + (${em} - ${sm}) - (CASE WHEN ${ed} < ${sd} THEN 1 ELSE 0 END))`;
        });
      case "DateDifferenceInYears":
        return this.reuse([a[0]!, a[1]!], ([e, s]) => {
          const [ey, em, ed] = (["YEAR", "MONTH", "DAY"] as const).map((p) => d.datePart(e!, p));
          const [sy, sm, sd] = (["YEAR", "MONTH", "DAY"] as const).map((p) => d.datePart(s!, p));
          return `((${ey} - ${sy}) - (CASE WHEN ${em} < ${sm} OR (${em} = ${sm} AND ${ed} < ${sd}) THEN 1 ELSE 0 END))`;
        });
      case "MinimumOf":
        return d.least(a.map(str));
      case "MaximumOf":
        return d.greatest(a.map(str));
    }
  }

  /** `x IN set`: false for an empty set even when x is NULL; NULL when x is NULL; NULLs in the set ignored. */
  private inSet(f: FunctionCall, ctx: Ctx): string {
    const [lhsNode, rhsNode] = f.args as [Series, Series];
    const lhs = this.expr(lhsNode, ctx);
    if (rhsNode.kind === "Value") {
      const values = (rhsNode.value as readonly Scalar[]).filter((v) => v !== null);
      if (values.length === 0) return "FALSE";
      const t = elementType(rhsNode.type);
      if (values.length <= LONG_SET) return `(${lhs} IN (${values.map((v) => this.d.literal(v, t)).join(", ")}))`;
      const src = this.source(rhsNode);
      return `(${lhs} IN (SELECT value FROM ${this.d.quote(src.table)}))`;
    }
    if (rhsNode.kind === "Aggregate" && rhsNode.fn === "CombineAsSet") {
      const src = this.source(rhsNode);
      const set = this.d.quote(src.table);
      const mine = `s.patient_id = ${ctx.pid}${src.byInterval ? ` AND s.interval_id = ${ctx.interval}.interval_id` : ""}`;
      // The set table has the patient's non-NULL values; no row means an empty set.
      return this.reuse([lhs], ([x]) =>
        `(CASE WHEN NOT EXISTS (SELECT 1 FROM ${set} AS s WHERE ${mine}) THEN FALSE ` +
          `WHEN ${x} IS NULL THEN NULL ` +
          `ELSE EXISTS (SELECT 1 FROM ${set} AS s WHERE ${mine} AND s.value = ${x}) END)`,
      );
    }
    // Any other set-valued series (a Case of sets, say) is not built by the language.
    throw new Error(`internal: In with a ${rhsNode.kind} on the right`);
  }

  // ---- temporary tables -------------------------------------------------------

  /** The temporary table for an aggregation, picked row, inline table or long codelist, built once. */
  private source(n: Aggregate | PickOneRowPerPatient | Frame | Series): Source {
    const id = nodeId(n);
    const known = this.sources.get(id);
    if (known) return known;
    let src: Source;
    if (n.kind === "Aggregate") src = this.buildAggregate(n);
    else if (n.kind === "PickOneRowPerPatient") src = this.buildPick(n);
    else if (n.kind === "InlinePatientTable") src = this.buildInline(n);
    else if (n.kind === "Value") src = this.buildValueSet(n.value as readonly Scalar[], elementType(n.type));
    else throw new Error(`internal: no temporary table for ${n.kind}`);
    src.byInterval = this.dependsOnInterval(n);
    this.sources.set(id, src);
    return src;
  }

  /**
   * FROM/WHERE of a many-rows frame: its table, and the conditions of its
   * filters, in a row context; with `perInterval`, each row once per interval.
   */
  private frameQuery(frame: ManyRowsFrame, perInterval: boolean): { from: string; where: string[]; sortKeys: Series[]; ctx: Ctx } {
    const conditions: Series[] = [];
    const sortKeys: Series[] = [];
    let f: ManyRowsFrame = frame;
    while (f.kind !== "SelectTable") {
      if (f.kind === "Filter") conditions.push(f.condition);
      else sortKeys.push(...f.sortBy);
      f = f.source;
    }
    const table: SelectTable = f;
    const ctx: Ctx = { pid: "r.patient_id", row: "r", joins: new Map(), interval: perInterval ? "i" : null };
    const where = conditions.reverse().map((c) => this.expr(c, ctx));
    const from = `${this.d.quote(table.name)} AS r${perInterval ? ` CROSS JOIN ${this.d.quote(this.intervals)} AS i` : ""}`;
    return { from, where, sortKeys, ctx };
  }

  private buildAggregate(a: Aggregate): Source {
    const name = this.temp("agg");
    const frame = a.source.kind === "SelectColumn" || isSeriesNode(a.source) ? domainFrame(a.source as Series) : (a.source as ManyRowsFrame);
    const perInterval = this.dependsOnInterval(a);
    const q = this.frameQuery(frame, perInterval);
    const v = isSeriesNode(a.source) ? this.expr(a.source as Series, q.ctx) : "";
    const where = (extra: string[] = []) => {
      const all = [...q.where, ...extra];
      return all.length ? `\nWHERE ${all.map((c) => `(${c})`).join(" AND ")}` : "";
    };
    const from = `FROM ${q.from}${joinSql(q.ctx)}`;
    // The key: the patient, and the interval when the aggregation depends on it.
    const key = perInterval ? "r.patient_id AS patient_id, i.interval_id AS interval_id" : "r.patient_id AS patient_id";
    const group = perInterval ? "GROUP BY r.patient_id, i.interval_id" : "GROUP BY r.patient_id";
    let select: string;
    switch (a.fn) {
      case "Exists":
        select = isSeriesNode(a.source)
          ? `SELECT ${key}, TRUE AS value ${from}${where([`${v} IS NOT NULL`])} ${group}`
          : `SELECT ${key}, TRUE AS value ${from}${where()} ${group}`;
        break;
      case "Count":
        select = `SELECT ${key}, COUNT(${isSeriesNode(a.source) ? v : "*"}) AS value ${from}${where()} ${group}`;
        break;
      case "CountDistinct":
        select = `SELECT ${key}, COUNT(DISTINCT ${v}) AS value ${from}${where()} ${group}`;
        break;
      case "Sum":
        select = `SELECT ${key}, CAST(SUM(${v}) AS ${this.d.columnType(a.type as ScalarType)}) AS value ${from}${where()} ${group}`;
        break;
      case "Mean":
        select = `SELECT ${key}, AVG(${this.d.castToFloat(v)}) AS value ${from}${where()} ${group}`;
        break;
      case "Min":
        select = `SELECT ${key}, MIN(${isStringLikeType(a.type) ? this.d.collate(v) : v}) AS value ${from}${where()} ${group}`;
        break;
      case "Max":
        select = `SELECT ${key}, MAX(${isStringLikeType(a.type) ? this.d.collate(v) : v}) AS value ${from}${where()} ${group}`;
        break;
      case "CombineAsSet":
        select = `SELECT DISTINCT ${key}, ${v} AS value ${from}${where([`${v} IS NOT NULL`])}`;
        break;
      case "CountEpisodes": {
        // A date more than the gap after the previous one starts an episode.
        const gap = this.d.intLiteral(a.maximumGapDays!);
        const partition = perInterval ? "r.patient_id, i.interval_id" : "r.patient_id";
        const inner =
          `SELECT ${key}, ${v} AS d, LAG(${v}) OVER (PARTITION BY ${partition} ORDER BY ${v}) AS prev ${from}${where([`${v} IS NOT NULL`])}`;
        const outerKey = perInterval ? "patient_id, interval_id" : "patient_id";
        select =
          `SELECT ${outerKey}, SUM(CASE WHEN prev IS NULL OR ${this.d.diffDays("d", "prev")} > ${gap} THEN 1 ELSE 0 END) AS value ` +
          `FROM (${inner}) AS e GROUP BY ${outerKey}`;
        break;
      }
    }
    this.setup.push(...this.d.createTempTableAs(name, select));
    return { table: name, value: "value" };
  }

  private buildPick(p: PickOneRowPerPatient): Source {
    const name = this.temp("row");
    const perInterval = this.dependsOnInterval(p);
    const q = this.frameQuery(p.source, perInterval);
    const cols = [...(this.pickColumns.get(nodeId(p)) ?? [])].sort();
    const schema = schemaOfFrame(p.source);
    const dir = p.position === "first" ? "ASC NULLS FIRST" : "DESC NULLS LAST";
    const order = [
      ...q.sortKeys.map((k) => {
        const x = this.expr(k, q.ctx);
        return isStringLikeType(k.type) ? this.d.collate(x) : x;
      }),
      // Ties on every key are broken by the columns the definition reads from this row.
      ...cols.map((c) => (isStringLikeType(schema[c]!) ? this.d.collate(`r.${this.d.quote(c)}`) : `r.${this.d.quote(c)}`)),
    ]
      .filter((x, i, all) => all.indexOf(x) === i) // a sort key that is also a tie-breaker counts once
      .map((x) => `${x} ${dir}`);
    const where = q.where.length ? `\nWHERE ${q.where.map((c) => `(${c})`).join(" AND ")}` : "";
    const picked = cols.map((c) => `r.${this.d.quote(c)} AS ${this.d.quote(c)}`);
    const key = perInterval ? "r.patient_id AS patient_id, i.interval_id AS interval_id" : "r.patient_id AS patient_id";
    const inner =
      `SELECT ${key}${picked.map((c) => `, ${c}`).join("")}, ` +
      `ROW_NUMBER() OVER (PARTITION BY r.patient_id${perInterval ? ", i.interval_id" : ""} ORDER BY ${order.join(", ")}) AS _rn\n` +
      `FROM ${q.from}${joinSql(q.ctx)}${where}`;
    const outer = `SELECT patient_id${perInterval ? ", interval_id" : ""}${cols.map((c) => `, ${this.d.quote(c)}`).join("")} FROM (${inner}) AS ranked WHERE _rn = 1`;
    this.setup.push(...this.d.createTempTableAs(name, outer));
    return { table: name };
  }

  private buildInline(n: Extract<Frame, { kind: "InlinePatientTable" }>): Source {
    const name = this.temp("inline");
    const cols = Object.entries(n.schema);
    this.setup.push(this.d.createTempTable(name, [["patient_id", "patient_id"], ...cols]));
    for (let i = 0; i < n.rows.length; i += 500) {
      const rows = n.rows.slice(i, i + 500).map((r) => `(${[this.d.intLiteral(r[0] as number), ...cols.map(([, t], j) => this.d.literal(r[j + 1]!, t))].join(", ")})`);
      this.setup.push(`INSERT INTO ${this.d.quote(name)} VALUES ${rows.join(", ")}`);
    }
    return { table: name };
  }

  private buildValueSet(values: readonly Scalar[], t: ScalarType): Source {
    const name = this.temp("codes");
    this.setup.push(this.d.createTempTable(name, [["value", t]]));
    const vs = values.filter((v) => v !== null);
    for (let i = 0; i < vs.length; i += 500) {
      this.setup.push(`INSERT INTO ${this.d.quote(name)} VALUES ${vs.slice(i, i + 500).map((v) => `(${this.d.literal(v, t)})`).join(", ")}`);
    }
    return { table: name };
  }
}

/** The value of a series that does not depend on the patient, if it is one. */
function constant(s: Series): Scalar | undefined {
  if (s.kind === "Value") return Array.isArray(s.value) ? undefined : (s.value as Scalar);
  if (s.kind !== "Function" || s.fn === "In") return undefined;
  const args: Scalar[] = [];
  for (const a of s.args) {
    const v = constant(a);
    if (v === undefined) return undefined;
    args.push(v);
  }
  return applyFunction(s.fn, args);
}

function joinSql(ctx: Ctx): string {
  return [...ctx.joins.values()].map((j) => `\n${j}`).join("");
}

function isPatientFrame(x: Node): x is Extract<Frame, { kind: "SelectPatientTable" | "InlinePatientTable" | "PickOneRowPerPatient" }> {
  return x.kind === "SelectPatientTable" || x.kind === "InlinePatientTable" || x.kind === "PickOneRowPerPatient";
}
function isSeriesNode(x: Node): x is Series {
  return ["Value", "Parameter", "SelectColumn", "Aggregate", "Function", "Case"].includes(x.kind);
}

function schemaOfFrame(f: ManyRowsFrame): Readonly<Record<string, ScalarType>> {
  while (f.kind !== "SelectTable") f = f.source;
  return f.schema;
}

/** The many-rows frame a series' rows come from: the deepest one it reads a column of. */
export function domainFrame(s: Series): ManyRowsFrame {
  let best: ManyRowsFrame | undefined;
  const visit = (n: Node): void => {
    if (n.kind === "SelectColumn") {
      if (n.source.kind === "SelectTable" || n.source.kind === "Filter" || n.source.kind === "Sort") {
        if (!best || domainOf(n.source).length > domainOf(best).length) best = n.source;
      }
      return;
    }
    if (n.kind === "Aggregate" || isPatientLevel(n)) return;
    children(n).forEach(visit);
  };
  visit(s);
  if (!best) throw new Error("internal: an aggregation of a series with no many-rows column");
  return best;
}
