// The workflow tables and checkTransition, without a database: every from × to
// pair for every kind of actor, each condition, the decisions, blinding.

import { describe, expect, it } from "vitest";
import {
  ACTIVE_STATUSES,
  AUDIT_EVENTS,
  BLINDED_STATUSES,
  Blocked,
  CONDITIONS,
  InvalidTransition,
  PermissionDenied,
  REQUEST_STATUSES,
  RuleViolation,
  STATUS_OWNER,
  SYSTEM,
  TRANSITIONS,
  canSee,
  checkTransition,
  fileDecision,
  stateDiagram,
  type Actor,
  type RequestAggregate,
  type RequestStatus,
  type Vote,
  type WorkspaceInfo,
} from "../../src/airlock/index.js";
import { MIGRATIONS } from "../../src/airlock/migrations.js";
import { alice, bob, carol, eve, mallory, olivia } from "./helpers.js";

const WS: WorkspaceInfo = { name: "ws", project: { number: 1, status: "ongoing" }, archived: false };
const SHA = "a".repeat(64);

/** The reference's moves, written out again by hand: the table must say exactly this. */
const REFERENCE_MOVES: [RequestStatus, RequestStatus, "author" | "reviewer" | "system"][] = [
  ["pending", "submitted", "author"],
  ["pending", "withdrawn", "author"],
  ["submitted", "partially_reviewed", "reviewer"],
  ["submitted", "returned", "reviewer"],
  ["partially_reviewed", "reviewed", "reviewer"],
  ["partially_reviewed", "returned", "reviewer"],
  ["reviewed", "approved", "reviewer"],
  ["reviewed", "rejected", "reviewer"],
  ["reviewed", "returned", "reviewer"],
  ["returned", "submitted", "author"],
  ["returned", "withdrawn", "author"],
  ["approved", "released", "system"],
];

const TURN: Record<RequestStatus, number> = { pending: 0, withdrawn: 0, submitted: 1, partially_reviewed: 1, reviewed: 1, approved: 1, released: 1, rejected: 1, returned: 2 };

/** A request in `status` that meets every condition of every move, so that only the table and the actor decide. */
function ready(status: RequestStatus, author = "alice"): RequestAggregate {
  const vote = (reviewer: string): Vote => ({ file: 1, reviewer, vote: "approved", sha256: SHA, turn: 1, updated: "t" });
  return {
    request: { id: 7, workspace: "ws", project: 1, author, status, turn: TURN[status], created: "t", updated: "t" },
    groups: [{ name: "g", context: "what", controls: "how", changesRequested: false }],
    files: [{ id: 1, group: "g", path: "out/t.csv", kind: "output", sha256: SHA, size: 3, action: "a", jobId: "j", commit: null, check: null, declaration: null, added: "t", updated: "t", released: "t" }],
    votes: [vote("bob"), vote("carol")],
    reviews: [
      { reviewer: "bob", turn: 1, submitted: "t" },
      { reviewer: "carol", turn: 1, submitted: "t" },
    ],
    comments: [],
  };
}

describe("the tables", () => {
  it("give every status an owner, as the reference does", () => {
    expect(Object.keys(STATUS_OWNER).sort()).toEqual([...REQUEST_STATUSES].sort());
    expect(STATUS_OWNER).toEqual({
      pending: "author",
      returned: "author",
      submitted: "reviewer",
      partially_reviewed: "reviewer",
      reviewed: "reviewer",
      approved: "system",
      released: "system",
      rejected: "system",
      withdrawn: "system",
    });
  });

  it("hold exactly the reference's moves, each made by the owner of its starting state", () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...REQUEST_STATUSES].sort());
    const moves = REQUEST_STATUSES.flatMap((from) => Object.keys(TRANSITIONS[from]).map((to) => [from, to, STATUS_OWNER[from]]));
    expect(moves.sort()).toEqual([...REFERENCE_MOVES].sort());
  });

  it("reach every state from pending, and end only in released, rejected and withdrawn", () => {
    const seen = new Set<RequestStatus>(["pending"]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of [...seen]) for (const to of Object.keys(TRANSITIONS[s]) as RequestStatus[]) if (!seen.has(to)) grew = seen.add(to) !== undefined;
    }
    expect([...seen].sort()).toEqual([...REQUEST_STATUSES].sort());
    expect(REQUEST_STATUSES.filter((s) => !ACTIVE_STATUSES.includes(s)).sort()).toEqual(["rejected", "released", "withdrawn"]);
    expect(BLINDED_STATUSES).toEqual(["submitted", "partially_reviewed"]);
  });

  it("name only known audit events and conditions", () => {
    for (const from of REQUEST_STATUSES) {
      for (const move of Object.values(TRANSITIONS[from])) {
        expect(AUDIT_EVENTS).toContain(move!.event);
        for (const c of move!.requires) expect(Object.keys(CONDITIONS)).toContain(c);
      }
    }
  });

  it("agree with the database's CHECK lists", () => {
    const sql = MIGRATIONS.map((m) => m.sql).join("\n");
    expect(sql).toContain(`status IN (${REQUEST_STATUSES.map((s) => `'${s}'`).join(", ")})`);
    expect(sql).toContain(`WHERE status IN (${ACTIVE_STATUSES.map((s) => `'${s}'`).join(", ")})`);
  });

  it("draw the diagram from the table", () => {
    const d = stateDiagram();
    for (const [from, to] of REFERENCE_MOVES) expect(d).toMatch(new RegExp(`^  ${from} --> ${to}: `, "m"));
    expect(d).toContain("approved --> released: system, has_output, all_approved, level4_types, all_uploaded");
  });
});

describe("checkTransition: every from × to for every actor", () => {
  const actors: [string, Actor, "author" | "reviewer" | "system" | "none"][] = [
    ["the author", alice, "author"],
    ["a checker", bob, "reviewer"],
    ["a second checker", carol, "reviewer"],
    ["someone else", eve, "none"],
    ["another project member", mallory, "none"],
    ["the uploader", SYSTEM, "system"],
  ];
  const rows = REQUEST_STATUSES.flatMap((from) => REQUEST_STATUSES.flatMap((to) => actors.map(([name, actor, party]) => ({ from, to, name, actor, party }))));

  it.each(rows)("$from → $to by $name", ({ from, to, actor, party }) => {
    const move = REFERENCE_MOVES.find(([f, t]) => f === from && t === to);
    const c = { agg: ready(from), ws: WS, confirmed: true };
    if (!move) expect(() => checkTransition(c, actor, to)).toThrow(InvalidTransition);
    else if (move[2] !== party) expect(() => checkTransition(c, actor, to)).toThrow(PermissionDenied);
    else expect(checkTransition(c, actor, to).event).toMatch(/^airlock\.request\./);
  });

  it("names the state, the actor's role and why", () => {
    const c = { agg: ready("submitted"), ws: WS };
    expect(() => checkTransition(c, alice, "withdrawn")).toThrow(
      'cannot change request 7 (workspace ws) from submitted to withdrawn: a submitted request can only become partially_reviewed or returned',
    );
    expect(() => checkTransition(c, alice, "returned")).toThrow(
      'cannot change request 7 (workspace ws) from submitted to returned: "alice" (the author) may not, as a submitted request is with the reviewers, and only an output checker who is not its author may move it',
    );
    expect(() => checkTransition({ agg: ready("pending"), ws: WS }, bob, "submitted")).toThrow('"bob" (an output checker) may not, as a pending request is in its author\'s hands');
    expect(() => checkTransition({ agg: ready("released"), ws: WS }, SYSTEM, "approved")).toThrow("released is final");
  });

  it("treats an author who is also an output checker as the author only", () => {
    const mine = ready("reviewed", "olivia");
    expect(() => checkTransition({ agg: mine, ws: WS }, olivia, "approved")).toThrow('"olivia" (the author) may not');
    expect(checkTransition({ agg: ready("pending", "olivia"), ws: WS, confirmed: true }, olivia, "submitted").event).toBe("airlock.request.submit");
  });

  it("refuses people in an archived workspace or a project no longer ongoing, but records the uploader's releases", () => {
    const archived = { ...WS, archived: true };
    const completed = { ...WS, project: { number: 1, status: "completed" as const } };
    expect(() => checkTransition({ agg: ready("pending"), ws: archived, confirmed: true }, alice, "submitted")).toThrow(new Blocked("cannot change request 7 (workspace ws) from pending to submitted: the workspace ws is archived; its requests can be viewed but not changed"));
    expect(() => checkTransition({ agg: ready("reviewed"), ws: completed }, bob, "approved")).toThrow("project 1 is completed, no longer ongoing");
    expect(checkTransition({ agg: ready("approved"), ws: completed }, SYSTEM, "released").event).toBe("airlock.request.release");
  });

  it("refuses an author who lost access to the project", () => {
    const gone = { ...alice, projectRoles: {} };
    expect(() => checkTransition({ agg: ready("pending"), ws: WS, confirmed: true }, gone, "submitted")).toThrow("(the author, who no longer has access to project 1's level 4 outputs)");
  });
});

describe("conditions", () => {
  const refuse = (agg: RequestAggregate, actor: Actor, to: RequestStatus, confirmed = true) => () => checkTransition({ agg, ws: WS, confirmed }, actor, to);

  it("submit: confirmation, an output file, context and controls on every group with files", () => {
    expect(refuse(ready("pending"), alice, "submitted", false)).toThrow(RuleViolation);
    expect(refuse(ready("pending"), alice, "submitted", false)).toThrow("the author must confirm that the outputs are aggregated");
    const supportingOnly = ready("pending");
    supportingOnly.files[0]!.kind = "supporting";
    expect(refuse(supportingOnly, alice, "submitted")).toThrow("the request has no output files (supporting files are never released)");
    const bare = ready("pending");
    bare.groups[0]!.controls = "  ";
    bare.groups.push({ name: "empty", context: "", controls: "", changesRequested: false });
    expect(refuse(bare, alice, "submitted")).toThrow('the group "g" needs both context and controls');
  });

  it("resubmit: a public comment from the author, this turn, on every group that had changes requested", () => {
    const agg = ready("returned");
    agg.groups[0]!.changesRequested = true;
    expect(refuse(agg, alice, "submitted")).toThrow('changes were requested in "g": the author must answer each with a public comment before resubmitting');
    agg.comments.push({ id: 1, group: "g", author: "bob", text: "why", visibility: "public", turn: 2, created: "t" });
    agg.comments.push({ id: 2, group: "g", author: "alice", text: "old", visibility: "public", turn: 0, created: "t" });
    expect(refuse(agg, alice, "submitted")).toThrow("changes were requested");
    agg.comments.push({ id: 3, group: "g", author: "alice", text: "done", visibility: "public", turn: 2, created: "t" });
    expect(checkTransition({ agg, ws: WS, confirmed: true }, alice, "submitted").event).toBe("airlock.request.resubmit");
  });

  it("reviews: one submitted review for partially reviewed, two for reviewed", () => {
    const none = ready("submitted");
    none.reviews = [];
    expect(refuse(none, bob, "partially_reviewed")).toThrow("no review has been submitted this turn");
    const one = ready("partially_reviewed");
    one.reviews = [{ reviewer: "bob", turn: 1, submitted: "t" }];
    expect(refuse(one, carol, "reviewed")).toThrow("1 review has been submitted this turn, and two independent reviews are needed");
  });

  it("approve and release: two approvals per output file from checkers who are not the author, on its current bytes", () => {
    const oneVote = ready("reviewed");
    oneVote.votes = oneVote.votes.slice(0, 1);
    expect(refuse(oneVote, bob, "approved")).toThrow('"out/t.csv" is incomplete');
    const stale = ready("approved");
    stale.votes[1]!.sha256 = "b".repeat(64);
    expect(refuse(stale, SYSTEM, "released")).toThrow("not every output file has two approvals");
    const byAuthor = ready("approved");
    byAuthor.votes[1]!.reviewer = "alice";
    byAuthor.reviews[1]!.reviewer = "alice";
    expect(refuse(byAuthor, SYSTEM, "released")).toThrow("not every output file has two approvals");
    const notSubmitted = ready("approved");
    notSubmitted.reviews = notSubmitted.reviews.slice(0, 1);
    expect(refuse(notSubmitted, SYSTEM, "released")).toThrow("not every output file has two approvals");
    const waiting = ready("approved");
    waiting.files[0]!.released = null;
    expect(refuse(waiting, SYSTEM, "released")).toThrow('the job server has not yet accepted "out/t.csv"');
    const exe = ready("approved");
    exe.files[0]!.path = "out/t.exe";
    expect(refuse(exe, SYSTEM, "released")).toThrow('"out/t.exe": not a level 4 file type');
  });

  it("return after review: a public checker comment this turn on every group with files not approved", () => {
    const agg = ready("reviewed");
    agg.votes[1]!.vote = "changes_requested";
    expect(refuse(agg, bob, "returned")).toThrow('the group "g" has files not approved, and needs a public comment from a checker this turn saying why');
    agg.comments.push({ id: 1, group: "g", author: "carol", text: "private", visibility: "private", turn: 1, created: "t" });
    expect(refuse(agg, bob, "returned")).toThrow("needs a public comment");
    agg.comments.push({ id: 2, group: "g", author: "carol", text: "round it", visibility: "public", turn: 1, created: "t" });
    expect(checkTransition({ agg, ws: WS }, bob, "returned").event).toBe("airlock.request.return");
  });

  it("early return needs nothing", () => {
    const agg = ready("submitted");
    agg.reviews = [];
    agg.votes = [];
    expect(checkTransition({ agg, ws: WS }, carol, "returned").event).toBe("airlock.request.early_return");
  });
});

describe("decisions", () => {
  const withVotes = (votes: [string, Vote["vote"]][]) => {
    const agg = ready("reviewed");
    agg.votes = votes.map(([reviewer, vote]) => ({ file: 1, reviewer, vote, sha256: SHA, turn: 1, updated: "t" }));
    agg.reviews = votes.map(([reviewer]) => ({ reviewer, turn: 1, submitted: "t" }));
    return fileDecision(agg, agg.files[0]!);
  };
  it.each([
    [[], "incomplete"],
    [[["bob", "approved"]], "incomplete"],
    [[["bob", "approved"], ["carol", "approved"]], "approved"],
    [[["bob", "approved"], ["carol", "changes_requested"]], "conflicted"],
    [[["bob", "changes_requested"], ["carol", "changes_requested"]], "changes_requested"],
    [[["bob", "approved"], ["carol", "changes_requested"], ["dave", "approved"]], "approved"],
    [[["bob", "approved"], ["carol", "undecided"]], "incomplete"],
  ] as [[string, Vote["vote"]][], string][])("%j → %s", (votes, decision) => {
    expect(withVotes(votes)).toBe(decision);
  });

  it("counts only submitted reviews of the decision turn", () => {
    const agg = ready("reviewed");
    agg.reviews = [{ reviewer: "bob", turn: 1, submitted: "t" }];
    expect(fileDecision(agg, agg.files[0]!)).toBe("incomplete");
  });
});

describe("canSee", () => {
  const item = (by: string, visibility: "public" | "private", turn: number) => ({ by, visibility, turn });
  const req = (status: RequestStatus, turn: number) => ({ ...ready(status).request, status, turn });

  it("blinds checkers to each other while reviews are independent", () => {
    expect(canSee(req("submitted", 1), "reviewer", "carol", item("bob", "private", 1))).toBe(false);
    expect(canSee(req("partially_reviewed", 1), "reviewer", "carol", item("bob", "private", 1))).toBe(false);
    expect(canSee(req("partially_reviewed", 1), "reviewer", "bob", item("bob", "private", 1))).toBe(true);
    expect(canSee(req("reviewed", 1), "reviewer", "carol", item("bob", "private", 1))).toBe(true);
    expect(canSee(req("submitted", 3), "reviewer", "carol", item("bob", "private", 1))).toBe(true);
  });

  it("shows authors and members public items only, once the reviewers' turn is over", () => {
    expect(canSee(req("reviewed", 1), "author", "alice", item("bob", "public", 1))).toBe(false);
    expect(canSee(req("returned", 2), "author", "alice", item("bob", "public", 1))).toBe(true);
    expect(canSee(req("returned", 2), "author", "alice", item("bob", "private", 1))).toBe(false);
    expect(canSee(req("approved", 1), "member", "mallory", item("bob", "public", 1))).toBe(true);
    expect(canSee(req("approved", 1), "other", "eve", item("bob", "public", 1))).toBe(false);
  });
});
