// Every operation in every state, for the author, a checker, a second checker,
// someone else and the uploader: one row each, asserting allow or deny. The
// allowed rows are written out by hand below from shared/reference/airlock.md;
// everything else must be refused with an AirlockError and change nothing.
//
// The request in each state is the one helpers.requestIn makes: bob reviews
// first and carol second, both approving; withdrawn means withdrawn before
// submission; returned means returned after both reviews.

import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AirlockError, REQUEST_STATUSES, SYSTEM, type Actor, type Airlock, type RequestStatus } from "../../src/airlock/index.js";
import { ENGINES, GROUP, SAFE_TABLE, TABLE, type World, alice, bob, carol, eve, openWorld, requestIn } from "./helpers.js";

type Who = "alice" | "bob" | "carol" | "eve" | "system";
const ACTORS: Record<Who, Actor> = { alice, bob, carol, eve, system: SYSTEM };
const SHA = createHash("sha256").update(SAFE_TABLE).digest("hex");

const OPS: Record<string, (a: Airlock, x: Actor, id: number) => Promise<unknown>> = {
  view: (a, x, id) => a.getRequest(x, id),
  download: (a, x, id) => a.openRequestFile(x, id, TABLE, "download"),
  editGroup: (a, x, id) => a.setGroupText(x, id, GROUP, { context: "more context" }),
  commentPublic: (a, x, id) => a.comment(x, id, GROUP, "a public note", "public"),
  commentPrivate: (a, x, id) => a.comment(x, id, GROUP, "a private note", "private"),
  submit: (a, x, id) => a.submit(x, id, { confirm: true }),
  withdraw: (a, x, id) => a.withdraw(x, id),
  vote: (a, x, id) => a.review(x, id, TABLE, "approved"),
  submitReview: async (a, x, id) => {
    await a.review(x, id, TABLE, "approved");
    return a.submitReview(x, id);
  },
  return: (a, x, id) => a.returnRequest(x, id),
  approve: (a, x, id) => a.approve(x, id),
  reject: (a, x, id) => a.reject(x, id),
  release: (a, x, id) => a.markReleased(x, id, TABLE, { sha256: SHA }),
};

const ALL: RequestStatus[] = [...REQUEST_STATUSES];
const SUBMITTED_ONCE: RequestStatus[] = ALL.filter((s) => s !== "pending" && s !== "withdrawn");

/** op → who → the states in which they may do it. */
const ALLOWED: Record<string, Partial<Record<Who, RequestStatus[]>>> = {
  view: { alice: ALL, bob: SUBMITTED_ONCE, carol: SUBMITTED_ONCE, system: ALL },
  download: { bob: SUBMITTED_ONCE, carol: SUBMITTED_ONCE },
  editGroup: { alice: ["pending", "returned"] },
  commentPublic: { alice: ["pending", "returned"], bob: ["reviewed", "returned"], carol: ["reviewed", "returned"] },
  commentPrivate: { bob: ["submitted", "partially_reviewed", "reviewed", "returned"], carol: ["submitted", "partially_reviewed", "reviewed", "returned"] },
  submit: { alice: ["pending", "returned"] },
  withdraw: { alice: ["pending", "returned"] },
  vote: { bob: ["submitted"], carol: ["submitted", "partially_reviewed"] },
  submitReview: { bob: ["submitted"], carol: ["submitted", "partially_reviewed"] },
  return: { bob: ["submitted", "partially_reviewed", "reviewed"], carol: ["submitted", "partially_reviewed", "reviewed"] },
  approve: { bob: ["reviewed"], carol: ["reviewed"] },
  reject: { bob: ["reviewed"], carol: ["reviewed"] },
  // Reporting a released file again is the uploader's retry: accepted, and it changes nothing.
  release: { system: ["approved", "released"] },
};

const rows = Object.keys(OPS).flatMap((op) =>
  ALL.flatMap((state) => (Object.keys(ACTORS) as Who[]).map((who) => ({ op, state, who, allowed: (ALLOWED[op]![who] ?? []).includes(state) }))),
);

describe.each(ENGINES)("operations on %s", (name, fresh) => {
  let w: World;
  let n = 0;
  // Refusals change nothing, so the refused rows of a state share one request.
  const shared = new Map<RequestStatus, number>();
  beforeAll(async () => {
    w = await openWorld([name, fresh]);
  });
  afterAll(async () => w.close());

  it.each(rows)("$op in $state by $who: allowed $allowed", async ({ op, state, who, allowed }) => {
    let id = allowed ? undefined : shared.get(state);
    if (id === undefined) {
      id = await requestIn(w, `ws-${++n}`, state);
      if (!allowed) shared.set(state, id);
    }
    const before = await w.store.read((tx) => tx.aggregate(id));
    const outcome = await OPS[op]!(w.airlock, ACTORS[who], id).then(
      () => "allowed",
      (e: unknown) => {
        if (!(e instanceof AirlockError)) throw e;
        return `denied: ${e.message}`;
      },
    );
    expect(outcome).toEqual(allowed ? "allowed" : expect.stringMatching(/^denied: /));
    if (!allowed) expect(await w.store.read((tx) => tx.aggregate(id))).toEqual(before);
  });
});
