// The release invariant, over random sequences of actions by random actors
// (fast-check): whatever anyone does, in whatever order, including jobs
// rewriting files and the uploader reporting wrong hashes,
//
//   every file the airlock records as released is an output file with at least
//   two approving votes, in submitted reviews of the deciding turn, from
//   distinct output checkers who are not the author, on its current bytes;
//
// and every approved or released request has that for every output file. The
// check reads the store's rows and restates the rule itself rather than
// calling the code under test. Anything thrown that is not an AirlockError
// fails the property.
//
// ENCLAVE_PROPERTY_RUNS sets the runs (default 120; PostgreSQL a fifth of it),
// ENCLAVE_PROPERTY_SEED the seed.

import * as fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { AirlockError, SYSTEM, type Actor, type RequestAggregate, type RequestStatus } from "../../src/airlock/index.js";
import { ENGINES, type Engine, type World, alice, bob, carol, dave, eve, mallory, olivia, openWorld } from "./helpers.js";

const RUNS = Number(process.env.ENCLAVE_PROPERTY_RUNS ?? 120);
const SEED = process.env.ENCLAVE_PROPERTY_SEED === undefined ? 20260101 : Number(process.env.ENCLAVE_PROPERTY_SEED);

const CAST: Actor[] = [alice, alice, bob, carol, dave, olivia, eve, mallory, SYSTEM];
const CHECKERS = new Set(["bob", "carol", "dave", "olivia"]);
const PATHS = ["out/a.csv", "out/b.csv", "out/notes.txt"];
const GROUPS = ["g1", "g2"];

type Action =
  | { t: "rerun"; path: number }
  | { t: "add"; who: number; path: number; group: number; supporting: boolean }
  | { t: "update" | "remove" | "withdrawFile"; who: number; path: number }
  | { t: "move"; who: number; path: number; group: number; supporting: boolean }
  | { t: "describe"; who: number; group: number }
  | { t: "submit"; who: number; confirm: boolean }
  | { t: "vote"; who: number; path: number; vote: "approved" | "changes_requested" | "undecided" }
  | { t: "reviewAll"; who: number; approve: boolean }
  | { t: "submitReview" | "return" | "approve" | "reject" | "withdraw"; who: number }
  | { t: "comment"; who: number; group: number; public: boolean }
  | { t: "answer"; who: number }
  | { t: "release"; who: number; path: number; rightHash: boolean }
  | { t: "uploadAll" };

const who = fc.nat(CAST.length - 1);
// Mostly the party whose move it is, so that sequences get somewhere; anyone at all the rest of the time.
const author = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: who });
const checker = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(2, 3, 4, 5) }, { weight: 1, arbitrary: who });
const uploader = fc.oneof({ weight: 4, arbitrary: fc.constant(CAST.length - 1) }, { weight: 1, arbitrary: who });
const path = fc.nat(PATHS.length - 1);
const group = fc.nat(GROUPS.length - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant("rerun" as const), path }) },
  { weight: 12, arbitrary: fc.record({ t: fc.constant("add" as const), who: author, path, group, supporting: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constantFrom("update" as const, "remove" as const, "withdrawFile" as const), who: author, path }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("move" as const), who: author, path, group, supporting: fc.boolean() }) },
  { weight: 12, arbitrary: fc.record({ t: fc.constant("describe" as const), who: author, group }) },
  { weight: 12, arbitrary: fc.record({ t: fc.constant("submit" as const), who: author, confirm: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("withdraw" as const), who: author }) },
  { weight: 9, arbitrary: fc.record({ t: fc.constant("vote" as const), who: checker, path, vote: fc.constantFrom("approved" as const, "changes_requested" as const, "undecided" as const) }) },
  { weight: 18, arbitrary: fc.record({ t: fc.constant("reviewAll" as const), who: checker, approve: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constantFrom("submitReview" as const, "return" as const), who: checker }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("reject" as const), who: checker }) },
  { weight: 9, arbitrary: fc.record({ t: fc.constant("approve" as const), who: checker }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant("comment" as const), who, group, public: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant("answer" as const), who: author }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant("release" as const), who: uploader, path, rightHash: fc.boolean() }) },
  { weight: 9, arbitrary: fc.record({ t: fc.constant("uploadAll" as const) }) },
);

/** The invariant, restated from the rows. */
function violations(agg: RequestAggregate): string[] {
  const { request } = agg;
  const deciding = request.turn % 2 === 1 ? request.turn : request.turn - 1;
  const submitted = new Set(agg.reviews.filter((r) => r.turn === deciding).map((r) => r.reviewer));
  const out: string[] = [];
  for (const f of agg.files) {
    const approvers = new Set(
      agg.votes.filter((v) => v.file === f.id && v.vote === "approved" && v.sha256 === f.sha256 && v.reviewer !== request.author && CHECKERS.has(v.reviewer) && submitted.has(v.reviewer)).map((v) => v.reviewer),
    );
    const mustHold = f.released !== null || (f.kind === "output" && (request.status === "approved" || request.status === "released"));
    if (f.released !== null && f.kind !== "output") out.push(`request ${request.id}: ${f.path} is ${f.kind} but released`);
    if (mustHold && approvers.size < 2) out.push(`request ${request.id} (${request.status}): ${f.path} has ${approvers.size} valid approvals`);
  }
  if (request.status === "released" && agg.files.some((f) => f.kind === "output" && f.released === null)) out.push(`request ${request.id} is released with output files not uploaded`);
  return out;
}

let version = 0;
const content = (p: string) => (p.endsWith(".txt") ? `notes, version ${++version}\n` : `group,count\na,${100 + 5 * (++version % 50)}\nb,205\n`);

async function act(w: World, a: Action): Promise<void> {
  const al = w.airlock;
  const actor = "who" in a ? CAST[a.who]! : SYSTEM;
  const p = "path" in a ? PATHS[a.path]! : PATHS[0]!;
  const g = "group" in a ? GROUPS[a.group]! : GROUPS[0]!;
  // The request under work: alice's latest.
  const requests = await w.store.read((tx) => tx.requests({ workspace: "ws", author: "alice" }));
  const id = requests.at(-1)?.id ?? 1;
  switch (a.t) {
    case "rerun":
      w.backend.write("ws", p, content(p));
      return;
    case "add":
      await al.addFile(actor, { workspace: "ws", path: p, group: g, kind: a.supporting ? "supporting" : "output" });
      return;
    case "update":
      await al.updateFile(actor, id, p);
      return;
    case "remove":
      await al.removeFile(actor, id, p);
      return;
    case "withdrawFile":
      await al.withdrawFile(actor, id, p);
      return;
    case "move":
      await al.changeFile(actor, id, p, { group: g, kind: a.supporting ? "supporting" : "output" });
      return;
    case "describe":
      // Sometimes one group, sometimes all of them: groups left undescribed block submission.
      for (const name of a.group === 0 ? (await w.store.read((tx) => tx.aggregate(id)))?.groups.map((x) => x.name) ?? [] : [g]) {
        await al.setGroupText(actor, id, name, { context: "what", controls: "how" });
      }
      return;
    case "submit":
      await al.submit(actor, id, { confirm: a.confirm });
      return;
    case "vote":
      await al.review(actor, id, p, a.vote);
      return;
    case "reviewAll": {
      const view = await al.getRequest(actor, id);
      for (const f of view.files.filter((x) => x.kind === "output")) await al.review(actor, id, f.path, a.approve ? "approved" : "changes_requested");
      for (const gr of view.groups) await al.comment(actor, id, gr.name, "noted", view.request.status === "reviewed" ? "public" : "private");
      await al.submitReview(actor, id);
      return;
    }
    case "submitReview":
      await al.submitReview(actor, id);
      return;
    case "return":
      await al.returnRequest(actor, id);
      return;
    case "approve":
      await al.approve(actor, id);
      return;
    case "reject":
      await al.reject(actor, id);
      return;
    case "withdraw":
      await al.withdraw(actor, id);
      return;
    case "comment":
      await al.comment(actor, id, g, "a comment", a.public ? "public" : "private");
      return;
    case "answer": {
      // What a diligent author does: describe every group, answer on each if the request came back, then (re)submit.
      const view = await al.getRequest(actor, id);
      for (const gr of view.groups) await al.setGroupText(actor, id, gr.name, { context: "what", controls: "how" });
      if (view.request.status === "returned") for (const gr of view.groups) await al.comment(actor, id, gr.name, "done as asked", "public");
      await al.submit(actor, id, { confirm: true });
      return;
    }
    case "release": {
      const f = (await w.store.read((tx) => tx.aggregate(id)))?.files.find((x) => x.path === p);
      await al.markReleased(actor, id, p, { sha256: a.rightHash && f ? f.sha256 : "0".repeat(64) });
      return;
    }
    case "uploadAll":
      for (const f of await al.releaseList(SYSTEM, id)) await al.markReleased(SYSTEM, id, f.name, { sha256: f.sha256 });
      return;
  }
}

const PROPERTY_ENGINES: (Engine | undefined)[] = [undefined, ...ENGINES.filter(([name]) => name === "postgres")];

describe.each(PROPERTY_ENGINES.map((e) => [e ? e[0] : "sqlite in memory", e] as const))("the release invariant on %s", (_name, engine) => {
  const reached = new Map<RequestStatus, number>();
  afterAll(() => {
    // Not a test of the code, a test of the test: the sequences must reach release at all.
    expect(reached.get("released") ?? 0).toBeGreaterThan(0);
  });

  it("holds after every action of any sequence", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 20, maxLength: 80 }), async (actions) => {
        const w = await openWorld(engine);
        try {
          w.backend.addWorkspace("ws");
          for (const p of PATHS) w.backend.write("ws", p, content(p));
          // Every sequence starts with a request to work on.
          await w.airlock.addFile(alice, { workspace: "ws", path: PATHS[0]!, group: GROUPS[0]! });
          for (const a of actions) {
            try {
              await act(w, a);
            } catch (e) {
              if (!(e instanceof AirlockError)) throw e;
            }
            const all = await w.store.read(async (tx) => {
              const out: RequestAggregate[] = [];
              for (const r of await tx.requests()) out.push((await tx.aggregate(r.id))!);
              return out;
            });
            const broken = all.flatMap(violations);
            if (broken.length > 0) throw new Error(`after ${JSON.stringify(a)}: ${broken.join("; ")}`);
          }
          for (const r of await w.store.read((tx) => tx.requests())) reached.set(r.status, (reached.get(r.status) ?? 0) + 1);
        } finally {
          await w.close();
        }
      }),
      { numRuns: engine ? Math.max(5, Math.round(RUNS / 5)) : RUNS, seed: SEED },
    );
  }, 600_000);
});
