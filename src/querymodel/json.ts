// The query model as JSON: the only thing that crosses from the process that
// ran the researcher's code to the trusted side. Shared subtrees are written
// once (a node table, children by index), so the size stays linear in the
// definition; reading rebuilds every node through its validating constructor,
// so a tampered or malformed document cannot produce an invalid tree.

import {
  type Dataset,
  type Frame,
  type ManyRowsFrame,
  type Node,
  type Series,
  Q,
  QueryModelError,
  children,
  makeDataset,
  nodeId,
} from "./nodes.js";
import { checkPopulation } from "./population.js";

export const FORMAT = "enclave-querymodel";
export const VERSION = 1;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface DatasetJson {
  format: typeof FORMAT;
  version: number;
  nodes: Json[];
  dataset: { population: number; variables: { name: string; series: number }[]; dummyData?: Json };
}

/** A node table being written: `ref(node)` gives the node's index, adding it (and its children) once. */
export function nodeTableWriter(): { nodes: Json[]; ref: (n: Node) => number } {
  const index = new Map<number, number>();
  const nodes: Json[] = [];
  const ref = (n: Node): number => {
    const id = nodeId(n);
    const known = index.get(id);
    if (known !== undefined) return known;
    children(n).forEach(ref);
    const i = nodes.length;
    nodes.push(encode(n, ref));
    index.set(id, i);
    return i;
  };
  return { nodes, ref };
}

export function datasetToJson(ds: Dataset): DatasetJson {
  const { nodes, ref } = nodeTableWriter();
  const dataset = {
    population: ref(ds.population),
    variables: ds.variables.map((v) => ({ name: v.name, series: ref(v.series) })),
    ...(ds.dummyData ? { dummyData: ds.dummyData as Json } : {}),
  };
  return { format: FORMAT, version: VERSION, nodes, dataset };
}

function encode(n: Node, ref: (n: Node) => number): Json {
  switch (n.kind) {
    case "SelectTable":
    case "SelectPatientTable":
      return { kind: n.kind, name: n.name, schema: n.schema, ...(n.requiredPermission ? { requiredPermission: n.requiredPermission } : {}) };
    case "InlinePatientTable":
      return { kind: n.kind, schema: n.schema, rows: n.rows as Json };
    case "Filter":
      return { kind: n.kind, source: ref(n.source), condition: ref(n.condition) };
    case "Sort":
      return { kind: n.kind, source: ref(n.source), sortBy: n.sortBy.map(ref) };
    case "PickOneRowPerPatient":
      return { kind: n.kind, source: ref(n.source), position: n.position };
    case "Value":
      return { kind: n.kind, type: n.type, value: n.value as Json };
    case "Parameter":
      return { kind: n.kind, name: n.name, type: n.type };
    case "SelectColumn":
      return { kind: n.kind, source: ref(n.source), name: n.name };
    case "Aggregate":
      return { kind: n.kind, fn: n.fn, source: ref(n.source), ...(n.maximumGapDays !== undefined ? { maximumGapDays: n.maximumGapDays } : {}) };
    case "Function":
      return { kind: n.kind, fn: n.fn, args: n.args.map(ref) };
    case "Case":
      return { kind: n.kind, cases: n.cases.map((c) => ({ when: ref(c.when), then: c.then ? ref(c.then) : null })), otherwise: n.otherwise ? ref(n.otherwise) : null };
  }
}

/** Rebuilds and validates a dataset (including the population rule) from its JSON form. */
export function datasetFromJson(doc: unknown): Dataset {
  const d = doc as DatasetJson;
  if (typeof d !== "object" || d === null || d.format !== FORMAT) throw new QueryModelError(`not an ${FORMAT} document`);
  if (d.version !== VERSION) throw new QueryModelError(`${FORMAT} version ${String(d.version)} is not supported (this Enclave reads version ${VERSION})`);
  const get = readNodeTable(FORMAT, d.nodes);
  const ds = d.dataset;
  if (typeof ds !== "object" || ds === null || !Array.isArray(ds.variables)) throw new QueryModelError(`${FORMAT}: "dataset" is missing or malformed`);
  const dataset = makeDataset(
    get(ds.population) as Series,
    ds.variables.map((v) => ({ name: v.name, series: get(v.series) as Series })),
    (ds.dummyData ?? undefined) as Dataset["dummyData"],
  );
  checkPopulation(dataset);
  return dataset;
}

/**
 * Rebuilds every node of a node table through its validating constructor; the
 * result gives the node at an index (a reference from outside the table).
 */
export function readNodeTable(format: string, nodes: unknown): (i: unknown) => Node {
  if (!Array.isArray(nodes)) throw new QueryModelError(`${format}: "nodes" must be an array`);
  const built: Node[] = [];
  const get = (i: unknown, at: number): Node => {
    if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= (at < 0 ? built.length : at)) {
      throw new QueryModelError(
        at < 0 ? `${format}: a reference to node ${JSON.stringify(i)}, which does not exist` : `${format}: node ${at} refers to ${JSON.stringify(i)}, which is not an earlier node`,
      );
    }
    return built[i]!;
  };
  (nodes as unknown[]).forEach((raw, at) => {
    try {
      built.push(decode(raw as Record<string, Json>, (i) => get(i, at)));
    } catch (e) {
      if (e instanceof QueryModelError) e.message = `${format} node ${at}: ${e.message}`;
      throw e;
    }
  });
  return (i) => get(i, -1);
}

function decode(n: Record<string, Json>, get: (i: Json | undefined) => Node): Node {
  const k = n?.kind;
  switch (k) {
    case "SelectTable":
      return Q.selectTable(n.name as string, n.schema as never, (n.requiredPermission as string) ?? undefined);
    case "SelectPatientTable":
      return Q.selectPatientTable(n.name as string, n.schema as never, (n.requiredPermission as string) ?? undefined);
    case "InlinePatientTable":
      return Q.inlinePatientTable(n.schema as never, n.rows as never);
    case "Filter":
      return Q.filter(get(n.source) as ManyRowsFrame, get(n.condition) as Series);
    case "Sort":
      if (!Array.isArray(n.sortBy)) throw new QueryModelError("Sort.sortBy must be an array");
      return Q.sort(get(n.source) as ManyRowsFrame, n.sortBy.map((i) => get(i) as Series));
    case "PickOneRowPerPatient":
      return Q.pick(get(n.source) as ManyRowsFrame, n.position as "first" | "last");
    case "Value":
      return Q.value(n.type as never, n.value as never);
    case "Parameter":
      return Q.parameter(n.name as string, n.type as never);
    case "SelectColumn":
      return Q.column(get(n.source) as Frame, n.name as string);
    case "Aggregate":
      return Q.aggregate(n.fn as never, get(n.source) as Series | Frame, (n.maximumGapDays as number) ?? undefined);
    case "Function":
      if (!Array.isArray(n.args)) throw new QueryModelError("Function.args must be an array");
      return Q.fn(n.fn as never, ...n.args.map((i) => get(i) as Series));
    case "Case":
      if (!Array.isArray(n.cases)) throw new QueryModelError("Case.cases must be an array");
      return Q.case(
        n.cases.map((c) => {
          const cc = c as Record<string, Json>;
          return { when: get(cc.when) as Series, then: cc.then === null ? null : (get(cc.then) as Series) };
        }),
        n.otherwise === null || n.otherwise === undefined ? null : (get(n.otherwise) as Series),
      );
    default:
      throw new QueryModelError(`unknown node kind ${JSON.stringify(k)}`);
  }
}
