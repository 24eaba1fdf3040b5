// The airlock service on each engine: files in, reviews, blinding, comments,
// release, and what goes to the audit log.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AirlockStore, Blocked, ContentMismatch, NotFound, PermissionDenied, RuleViolation, SYSTEM } from "../../src/airlock/index.js";
import { MIGRATIONS } from "../../src/airlock/migrations.js";
import { readLedger } from "../../src/sdc/ledger.js";
import { ENGINES, GROUP, SAFE_TABLE, SMALL_TABLE, TABLE, type World, alice, bob, carol, dave, eve, mallory, olivia, openWorld, requestIn, reviewAll } from "./helpers.js";

describe.each(ENGINES)("airlock on %s", (_name, fresh) => {
  let w: World;
  beforeEach(async () => {
    w = await openWorld([_name, fresh]);
    w.backend.addWorkspace("ws");
  });
  afterEach(async () => w.close());

  it("applies each migration once, and nothing on re-opening", async () => {
    const where = fresh();
    const first = await AirlockStore.open(where.target, { schema: where.schema });
    expect(first.appliedMigrations).toEqual(MIGRATIONS.map((m) => m.version));
    await first.close();
    const again = await AirlockStore.open(where.target, { schema: where.schema });
    expect(again.appliedMigrations).toEqual([]);
    expect(await again.migrationVersions()).toEqual(MIGRATIONS.map((m) => m.version));
    await again.close();
  });

  describe("adding files", () => {
    it("creates the request, copies the bytes under their sha256 and keeps the automated check's verdict", async () => {
      const entry = w.backend.write("ws", "out/safe.csv", SAFE_TABLE);
      w.backend.write("ws", "out/small.csv", SMALL_TABLE);
      const v1 = await w.airlock.addFile(alice, { workspace: "ws", path: "out/safe.csv", group: "tables" });
      expect(v1.request).toMatchObject({ workspace: "ws", project: 1, author: "alice", status: "pending", turn: 0 });
      const v2 = await w.airlock.addFile(alice, { workspace: "ws", path: "out/small.csv", group: "tables" });
      expect(v2.request.id).toBe(v1.request.id);
      const [safe, small] = v2.files;
      expect(safe).toMatchObject({ path: "out/safe.csv", kind: "output", sha256: entry.sha256, jobId: entry.job_id, action: "analyse", check: { status: "pass", failures: [] } });
      expect(small!.check!.status).toBe("fail");
      expect(small!.check!.failures).toContainEqual({ rule: "small_count", row: 1, column: "count", value: "3", message: "3 is a count of 1 to 7: redact it" });
      expect(fs.readFileSync(path.join(w.backend.airlockDir, "objects", entry.sha256), "utf8")).toBe(SAFE_TABLE);
      // What checkers will see later comes from the store, not from this call.
      expect((await w.airlock.getRequest(alice, v1.request.id)).files[1]!.check).toEqual(small!.check);
    });

    it("keeps an 'error' verdict when the checks cannot read the file, and checks new tables against the project's released ones", async () => {
      w.backend.write("ws", "out/broken.csv", 'group,count\na,"100\n');
      const v = await w.airlock.addFile(alice, { workspace: "ws", path: "out/broken.csv", group: "tables" });
      expect(v.files[0]!.check).toMatchObject({ status: "error", failures: [], message: expect.stringContaining("broken.csv") });

      await requestIn(w, "ws2", "released");
      w.backend.write("ws", "out/again.csv", SAFE_TABLE.replace("a,100", "a,105"));
      const again = (await w.airlock.addFile(alice, { workspace: "ws", path: "out/again.csv", group: "tables" })).files.find((f) => f.path === "out/again.csv")!;
      expect(again.check!.status).toBe("fail");
      expect(again.check!.failures).toEqual([expect.objectContaining({ rule: "differencing", row: 1, column: "count", value: "105", message: expect.stringContaining(`differencing with ws2/${TABLE}`) })]);
    });

    it("changes nothing when the audit log refuses the event", async () => {
      w.backend.write("ws", TABLE, SAFE_TABLE);
      const broken = await openWorld(undefined, w.backend);
      await broken.audit.close();
      await expect(broken.airlock.addFile(alice, { workspace: "ws", path: TABLE, group: GROUP })).rejects.toThrow();
      expect(await broken.store.read((tx) => tx.requests())).toEqual([]);
      await broken.store.close();
    });

    it("refuses a file whose bytes are not those its job wrote", async () => {
      w.backend.write("ws", TABLE, SAFE_TABLE);
      w.backend.tamper("ws", TABLE, SMALL_TABLE);
      const add = w.airlock.addFile(alice, { workspace: "ws", path: TABLE, group: GROUP });
      await expect(add).rejects.toThrow(ContentMismatch);
      await expect(w.airlock.addFile(alice, { workspace: "ws", path: TABLE, group: GROUP })).rejects.toThrow(/"output\/table.csv" in workspace ws has changed since job job-\w+ \(action analyse\) wrote it: it hashes to \w{64}, the manifest says \w{64}; run the action again/);
      expect(await w.airlock.activeRequest(alice, "ws")).toBeUndefined();
    });

    it("refuses what is not a level 4 file of the workspace", async () => {
      w.backend.write("ws", "out/patients.csv", SAFE_TABLE, { level: "highly_sensitive", excluded: null });
      w.backend.write("ws", "out/big.csv", SAFE_TABLE, { excluded: true, excluded_reason: "has 6000 rows" });
      const add = (p: string) => w.airlock.addFile(alice, { workspace: "ws", path: p, group: GROUP });
      await expect(add("out/patients.csv")).rejects.toThrow('"out/patients.csv" in workspace ws is highly_sensitive (level 3): only level 4 (moderately_sensitive) files can be released');
      await expect(add("out/big.csv")).rejects.toThrow("was kept out of level 4: has 6000 rows");
      await expect(add("out/none.csv")).rejects.toThrow(new NotFound('"out/none.csv" is not an output of workspace ws: its manifest does not list it'));
      await expect(add("../other/x.csv")).rejects.toThrow("it has an empty, '.' or '..' part");
      await expect(add("/etc/passwd")).rejects.toThrow("it is absolute");
      w.backend.write("ws", "out/link.csv", SAFE_TABLE);
      const link = path.join(w.backend.backendDir, "level4", "ws", "out", "link.csv");
      fs.rmSync(link);
      fs.symlinkSync("/etc/hostname", link);
      await expect(add("out/link.csv")).rejects.toThrow('"out/link.csv" in workspace ws is not a plain file');
    });

    it("allows one active request per user and workspace", async () => {
      const id = await requestIn(w, "ws", "pending");
      await expect(w.airlock.createRequest(alice, "ws")).rejects.toThrow(new RuleViolation(`"alice" already has an active request in workspace ws (request ${id}, pending): one at a time, so add files to it, or withdraw it first`));
      expect((await w.airlock.createRequest(mallory, "ws")).request.author).toBe("mallory");
      await w.airlock.submit(alice, id, { confirm: true });
      w.backend.write("ws", "out/more.csv", SAFE_TABLE);
      await expect(w.airlock.addFile(alice, { workspace: "ws", path: "out/more.csv", group: GROUP })).rejects.toThrow(`cannot change the files or groups of request ${id} (workspace ws): it is submitted`);
      await w.airlock.returnRequest(bob, id);
      await w.airlock.withdraw(alice, id);
      expect((await w.airlock.createRequest(alice, "ws")).request.id).not.toBe(id);
    });

    it("blocks archived workspaces and projects no longer ongoing, which stay viewable", async () => {
      const id = await requestIn(w, "ws", "submitted");
      w.backend.workspaces.get("ws")!.archived = true;
      await expect(w.airlock.createRequest(mallory, "ws")).rejects.toThrow(new Blocked("cannot create or change requests in workspace ws: the workspace ws is archived"));
      await expect(w.airlock.review(bob, id, TABLE, "approved")).rejects.toThrow(Blocked);
      await expect(w.airlock.returnRequest(bob, id)).rejects.toThrow("the workspace ws is archived; its requests can be viewed but not changed");
      expect((await w.airlock.getRequest(alice, id)).request.status).toBe("submitted");
      expect((await w.airlock.getRequest(bob, id)).request.status).toBe("submitted");

      w.backend.addWorkspace("done", 1, "completed");
      w.backend.write("done", TABLE, SAFE_TABLE);
      await expect(w.airlock.addFile(alice, { workspace: "done", path: TABLE, group: GROUP })).rejects.toThrow(new Blocked("cannot create or change requests in workspace done: project 1 is completed, no longer ongoing"));
      await expect(w.airlock.createRequest(olivia, "done")).rejects.toThrow(Blocked);
    });

    it("refuses people without a project role, and unknown workspaces", async () => {
      w.backend.write("ws", TABLE, SAFE_TABLE);
      await expect(w.airlock.addFile(bob, { workspace: "ws", path: TABLE, group: GROUP })).rejects.toThrow(new PermissionDenied('"bob" cannot request releases from workspace ws: that needs a project role with access to project 1\'s level 4 outputs'));
      await expect(w.airlock.addFile(eve, { workspace: "ws", path: TABLE, group: GROUP })).rejects.toThrow(PermissionDenied);
      await expect(w.airlock.addFile(alice, { workspace: "nope", path: TABLE, group: GROUP })).rejects.toThrow(new NotFound('there is no workspace named "nope"'));
      await expect(w.airlock.addFile({ username: "", globalRoles: [], projectRoles: {} }, { workspace: "ws", path: TABLE, group: GROUP })).rejects.toThrow("the caller is not a user");
    });

    it("removes files from a pending request, withdraws them from a returned one", async () => {
      const id = await requestIn(w, "ws", "pending");
      w.backend.write("ws", "out/notes.txt", "how it was made");
      await w.airlock.addFile(alice, { workspace: "ws", path: "out/notes.txt", group: GROUP, kind: "supporting" });
      await expect(w.airlock.withdrawFile(alice, id, "out/notes.txt")).rejects.toThrow("files are withdrawn from returned requests; remove it instead");
      expect((await w.airlock.removeFile(alice, id, "out/notes.txt")).files.map((f) => f.path)).toEqual([TABLE]);
      await w.airlock.addFile(alice, { workspace: "ws", path: "out/notes.txt", group: GROUP, kind: "supporting" });
      await w.airlock.submit(alice, id, { confirm: true });
      await expect(w.airlock.review(bob, id, "out/notes.txt", "approved")).rejects.toThrow('"out/notes.txt" is a supporting file of request');
      await w.airlock.returnRequest(bob, id);
      await expect(w.airlock.removeFile(alice, id, TABLE)).rejects.toThrow("submitted files stay on the record; withdraw it instead");
      const v = await w.airlock.withdrawFile(alice, id, "out/notes.txt");
      expect(v.files.find((f) => f.path === "out/notes.txt")!.kind).toBe("withdrawn");
    });
  });

  describe("submitting", () => {
    it("needs confirmation, an output file, and context and controls on every group with files", async () => {
      w.backend.write("ws", "out/notes.txt", "how it was made");
      const id = (await w.airlock.addFile(alice, { workspace: "ws", path: "out/notes.txt", group: "notes", kind: "supporting" })).request.id;
      const submit = (confirm: boolean) => w.airlock.submit(alice, id, { confirm });
      await expect(submit(true)).rejects.toThrow("the request has no output files");
      w.backend.write("ws", TABLE, SAFE_TABLE);
      await w.airlock.addFile(alice, { workspace: "ws", path: TABLE, group: GROUP });
      await expect(submit(false)).rejects.toThrow("the author must confirm");
      await expect(submit(true)).rejects.toThrow('the groups "notes", "tables" need both context and controls');
      await w.airlock.setGroupText(alice, id, "notes", { context: "c", controls: "k" });
      await w.airlock.setGroupText(alice, id, GROUP, { context: "c", controls: "k" });
      expect((await submit(true)).request).toMatchObject({ status: "submitted", turn: 1 });
    });
  });

  describe("reviewing", () => {
    it("needs two independent reviews from checkers who are not the author before approval", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await expect(w.airlock.approve(bob, id)).rejects.toThrow("a submitted request can only become partially_reviewed or returned");
      await reviewAll(w.airlock, bob, id, "approved");
      expect((await w.airlock.getRequest(bob, id)).request.status).toBe("partially_reviewed");
      await expect(w.airlock.approve(bob, id)).rejects.toThrow("a partially_reviewed request can only become reviewed or returned");
      await expect(w.airlock.review(bob, id, TABLE, "changes_requested")).rejects.toThrow('"bob" (an output checker) has already submitted a review of request');
      await expect(w.airlock.submitReview(bob, id)).rejects.toThrow("has already submitted a review");
      await reviewAll(w.airlock, carol, id, "approved");
      const v = await w.airlock.approve(carol, id);
      expect(v.request.status).toBe("approved");
      expect(v.files[0]!.decision).toBe("approved");
    });

    it("never lets the author review or download, even an author who is an output checker", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await expect(w.airlock.review(alice, id, TABLE, "approved")).rejects.toThrow(new PermissionDenied(`"alice" (the author) cannot review request ${id} (workspace ws): nobody reviews their own request`));
      await expect(w.airlock.openRequestFile(alice, id, TABLE, "download")).rejects.toThrow("authors never download their own request's files");
      await expect(w.airlock.openRequestFile(mallory, id, TABLE, "download")).rejects.toThrow("only output checkers who are not the author do");
      await expect(w.airlock.openRequestFile(eve, id, TABLE, "view")).rejects.toThrow(PermissionDenied);
      expect((await w.airlock.openRequestFile(alice, id, TABLE, "view")).sha256).toHaveLength(64);
      const got = await w.airlock.openRequestFile(bob, id, TABLE, "download");
      expect(fs.readFileSync(got.file, "utf8")).toBe(SAFE_TABLE);

      w.backend.write("ws", "out/o.csv", SAFE_TABLE);
      const own = (await w.airlock.addFile(olivia, { workspace: "ws", path: "out/o.csv", group: GROUP })).request.id;
      await w.airlock.setGroupText(olivia, own, GROUP, { context: "c", controls: "k" });
      await w.airlock.submit(olivia, own, { confirm: true });
      await expect(w.airlock.review(olivia, own, "out/o.csv", "approved")).rejects.toThrow("nobody reviews their own request");
      await expect(w.airlock.openRequestFile(olivia, own, "out/o.csv", "download")).rejects.toThrow("authors never download");
    });

    it("keeps drafts from checkers", async () => {
      const id = await requestIn(w, "ws", "pending");
      await expect(w.airlock.getRequest(bob, id)).rejects.toThrow(`"bob" (an output checker) cannot see request ${id} (workspace ws): it has not been submitted yet`);
      expect(await w.airlock.listRequests(bob)).toEqual([]);
      expect((await w.airlock.listRequests(mallory)).map((r) => r.id)).toEqual([id]);
      expect(await w.airlock.listRequests(eve)).toEqual([]);
    });

    it("wants a vote on every output file, and a comment where changes are requested", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await expect(w.airlock.submitReview(bob, id)).rejects.toThrow(`cannot submit the review of request ${id}: vote on every output file first (not yet: "output/table.csv")`);
      await w.airlock.review(bob, id, TABLE, "changes_requested");
      await expect(w.airlock.submitReview(bob, id)).rejects.toThrow('comment on "tables" first, saying what changes you requested');
      await w.airlock.comment(bob, id, GROUP, "round to 10", "private");
      expect((await w.airlock.submitReview(bob, id)).request.status).toBe("partially_reviewed");
    });

    it("blinds each checker to the other's votes and comments until both reviews are in", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await reviewAll(w.airlock, bob, id, "changes_requested");
      const carolSees = await w.airlock.getRequest(carol, id);
      expect(carolSees.files[0]!.votes).toEqual([]);
      expect(carolSees.files[0]!.decision).toBeNull();
      expect(carolSees.groups[0]!.comments).toEqual([]);
      expect((await w.airlock.events(carol, id)).some((e) => e.username === "bob" && e.type === "airlock.file.request_changes")).toBe(false);
      const bobSees = await w.airlock.getRequest(bob, id);
      expect(bobSees.files[0]!.votes.map((v) => [v.reviewer, v.vote])).toEqual([["bob", "changes_requested"]]);
      await reviewAll(w.airlock, carol, id, "approved");
      const after = await w.airlock.getRequest(carol, id);
      expect(after.request.status).toBe("reviewed");
      expect(after.files[0]!.votes.map((v) => [v.reviewer, v.vote])).toEqual([
        ["bob", "changes_requested"],
        ["carol", "approved"],
      ]);
      expect(after.files[0]!.decision).toBe("conflicted");
      expect(after.groups[0]!.comments.map((c) => c.author)).toEqual(["bob"]);
      // The author sees no votes, ever, and no decision while the checkers have it.
      const aliceSees = await w.airlock.getRequest(alice, id);
      expect(aliceSees.files[0]!.votes).toEqual([]);
      expect(aliceSees.files[0]!.decision).toBeNull();
    });

    it("lets a third checker unblock a conflict", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await reviewAll(w.airlock, bob, id, "approved");
      await reviewAll(w.airlock, carol, id, "changes_requested");
      await expect(w.airlock.approve(bob, id)).rejects.toThrow('"output/table.csv" is conflicted');
      await reviewAll(w.airlock, dave, id, "approved");
      expect((await w.airlock.approve(dave, id)).request.status).toBe("approved");
    });
  });

  describe("comments", () => {
    it("are public for authors, private or public for checkers as the state allows, and shown by the visibility rules", async () => {
      const id = await requestIn(w, "ws", "pending");
      await expect(w.airlock.comment(alice, id, GROUP, "note", "private")).rejects.toThrow("private comments are for output checkers, and authors write public ones");
      await w.airlock.comment(alice, id, GROUP, "please look at the totals", "public");
      await expect(w.airlock.comment(eve, id, GROUP, "hi", "public")).rejects.toThrow(PermissionDenied);
      await w.airlock.submit(alice, id, { confirm: true });
      await expect(w.airlock.comment(alice, id, GROUP, "also", "public")).rejects.toThrow("its author comments while it is pending or returned");
      await expect(w.airlock.comment(bob, id, GROUP, "bad", "public")).rejects.toThrow("cannot write a public comment on request");
      await w.airlock.comment(bob, id, GROUP, "between us", "private");
      await reviewAll(w.airlock, bob, id, "changes_requested");
      await reviewAll(w.airlock, carol, id, "approved");
      const pub = await w.airlock.comment(carol, id, GROUP, "round the counts", "public");
      const privateOne = (await w.airlock.getRequest(bob, id)).groups[0]!.comments.find((c) => c.text === "between us")!;
      await expect(w.airlock.makeCommentPublic(carol, id, privateOne.id)).rejects.toThrow("is \"bob\"'s: only its writer can make it public");
      // Public, but the reviewers' turn is not over: the author does not see it yet.
      expect((await w.airlock.getRequest(alice, id)).groups[0]!.comments.map((c) => c.text)).toEqual(["please look at the totals"]);
      await w.airlock.returnRequest(carol, id);
      const aliceSees = (await w.airlock.getRequest(alice, id)).groups[0]!.comments.map((c) => c.text);
      expect(aliceSees).toEqual(["please look at the totals", "round the counts"]);
      expect((await w.airlock.getRequest(mallory, id)).groups[0]!.comments.map((c) => c.text)).toEqual(aliceSees);
      expect(pub.request.status).toBe("reviewed");
      expect((await w.airlock.getRequest(bob, id)).groups[0]!.comments).toHaveLength(4);
      expect((await w.airlock.events(alice, id)).filter((e) => e.visibility === "private")).toEqual([]);
    });

    it("can be deleted by their writer in the same turn only", async () => {
      const id = await requestIn(w, "ws", "pending");
      const v = await w.airlock.comment(alice, id, GROUP, "typo", "public");
      const c = v.groups[0]!.comments[0]!;
      await expect(w.airlock.deleteComment(mallory, id, c.id)).rejects.toThrow("only its writer can delete it");
      await w.airlock.comment(alice, id, GROUP, "kept", "public");
      expect((await w.airlock.deleteComment(alice, id, c.id)).groups[0]!.comments.map((x) => x.text)).toEqual(["kept"]);
      const kept = (await w.airlock.getRequest(alice, id)).groups[0]!.comments[0]!;
      await w.airlock.submit(alice, id, { confirm: true });
      await w.airlock.returnRequest(bob, id);
      await expect(w.airlock.deleteComment(alice, id, kept.id)).rejects.toThrow("was written in an earlier turn, and stays on the record");
    });
  });

  describe("returning and resubmitting", () => {
    it("early return resets this turn's votes, comments and reviews", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await reviewAll(w.airlock, bob, id, "changes_requested");
      await w.airlock.review(carol, id, TABLE, "approved");
      const v = await w.airlock.returnRequest(carol, id);
      expect(v.request).toMatchObject({ status: "returned", turn: 2 });
      const agg = (await w.store.read((tx) => tx.aggregate(id)))!;
      expect([agg.votes, agg.comments, agg.reviews]).toEqual([[], [], []]);
      expect((await w.airlock.events(alice, id)).map((e) => e.type)).toContain("airlock.request.early_return");
    });

    it("a returned request needs the author's answer on every group with changes requested; votes for changes become undecided", async () => {
      const id = await requestIn(w, "ws", "submitted");
      await reviewAll(w.airlock, bob, id, "approved");
      await reviewAll(w.airlock, carol, id, "changes_requested");
      await expect(w.airlock.returnRequest(bob, id)).rejects.toThrow('the group "tables" has files not approved, and needs a public comment from a checker this turn saying why');
      await w.airlock.comment(carol, id, GROUP, "please round", "public");
      await w.airlock.returnRequest(bob, id);
      await expect(w.airlock.resubmit(alice, id, { confirm: true })).rejects.toThrow('changes were requested in "tables": the author must answer each with a public comment before resubmitting');
      await w.airlock.comment(alice, id, GROUP, "rounded now", "public");
      const v = await w.airlock.resubmit(alice, id, { confirm: true });
      expect(v.request).toMatchObject({ status: "submitted", turn: 3 });
      const agg = (await w.store.read((tx) => tx.aggregate(id)))!;
      expect(agg.votes.map((x) => [x.reviewer, x.vote, x.turn])).toEqual([
        ["bob", "approved", 1],
        ["carol", "undecided", 3],
      ]);
      expect(agg.groups[0]!.changesRequested).toBe(false);
      // bob's approval carries over, but counts again only once he submits this turn.
      await w.airlock.submitReview(bob, id);
      await reviewAll(w.airlock, carol, id, "approved");
      expect((await w.airlock.approve(carol, id)).request.status).toBe("approved");
    });

    it("a file changed after review cannot be released unreviewed", async () => {
      const id = await requestIn(w, "ws", "reviewed");
      await w.airlock.returnRequest(bob, id);
      await expect(w.airlock.updateFile(alice, id, TABLE)).rejects.toThrow("is the same as request");
      const changed = "group,count\na,100\nb,200\n";
      w.backend.write("ws", TABLE, changed);
      const before = (await w.store.read((tx) => tx.aggregate(id)))!;
      const v = await w.airlock.updateFile(alice, id, TABLE);
      expect(v.files[0]!.sha256).not.toBe(before.files[0]!.sha256);
      expect((await w.store.read((tx) => tx.aggregate(id)))!.votes).toEqual([]);
      await w.airlock.resubmit(alice, id, { confirm: true });
      await expect(w.airlock.submitReview(bob, id)).rejects.toThrow("vote on every output file first");
      await reviewAll(w.airlock, bob, id, "approved");
      await expect(w.airlock.review(alice, id, TABLE, "approved")).rejects.toThrow(PermissionDenied);
      await expect(w.airlock.approve(bob, id)).rejects.toThrow("can only become reviewed or returned");
      await expect(w.airlock.markReleased(SYSTEM, id, TABLE, { sha256: v.files[0]!.sha256 })).rejects.toThrow("only approved requests are released");
    });
  });

  describe("release", () => {
    it("releases once the job server accepted every output file, records the tables in the ledger, and refuses the same bytes again", async () => {
      w.backend.write("ws", "out/notes.txt", "how it was made");
      const id = await requestIn(w, "ws", "pending");
      await w.airlock.addFile(alice, { workspace: "ws", path: "out/notes.txt", group: GROUP, kind: "supporting" });
      await w.airlock.submit(alice, id, { confirm: true });
      await reviewAll(w.airlock, bob, id, "approved");
      await reviewAll(w.airlock, carol, id, "approved");
      await w.airlock.approve(bob, id);
      const list = await w.airlock.releaseList(SYSTEM, id);
      expect(list.map((f) => [f.name, f.released])).toEqual([[TABLE, false]]);
      await expect(w.airlock.releaseList(bob, id)).rejects.toThrow("only the uploader reports what the job server accepted");
      await expect(w.airlock.markReleased(bob, id, TABLE, { sha256: list[0]!.sha256 })).rejects.toThrow(PermissionDenied);
      await expect(w.airlock.markReleased(SYSTEM, id, TABLE, { sha256: "f".repeat(64) })).rejects.toThrow(ContentMismatch);
      await expect(w.airlock.markReleased(SYSTEM, id, "out/notes.txt", { sha256: list[0]!.sha256 })).rejects.toThrow("only output files are released");
      const v = await w.airlock.markReleased(SYSTEM, id, TABLE, { sha256: list[0]!.sha256 });
      expect(v.request.status).toBe("released");
      expect((await w.airlock.markReleased(SYSTEM, id, TABLE, { sha256: list[0]!.sha256 })).request.status).toBe("released");
      const ledger = readLedger(path.join(w.backend.airlockDir, "ledger", "1"));
      expect(ledger.map((e) => [e.path, e.sha256])).toEqual([[`ws/${TABLE}`, list[0]!.sha256]]);
      const files = await w.airlock.workspaceFiles(alice, "ws");
      expect(files.find((f) => f.path === TABLE)!.status).toBe("released");
      await expect(w.airlock.addFile(alice, { workspace: "ws", path: TABLE, group: GROUP })).rejects.toThrow(`"output/table.csv" was already released from workspace ws, with these very bytes, by request ${id}`);
    });

    it("writes every event to the hash-chained audit log as well", async () => {
      const id = await requestIn(w, "ws", "released");
      const events = await w.store.read((tx) => tx.requestEvents(id));
      const audit = await w.audit.entries();
      expect(audit.map((e) => [e.actor, e.action, e.subject])).toEqual(events.map((e) => [e.username, e.type, `airlock_request:${id}`]));
      expect(audit.map((e) => e.action)).toEqual(
        expect.arrayContaining(["airlock.request.create", "airlock.file.add", "airlock.group.edit", "airlock.request.submit", "airlock.file.approve", "airlock.request.review", "airlock.request.partially_reviewed", "airlock.request.reviewed", "airlock.request.approve", "airlock.file.upload", "airlock.request.release", "airlock.file.release"]),
      );
      expect(audit.find((e) => e.action === "airlock.file.upload")!.details).toMatchObject({ path: TABLE, approvedBy: ["bob", "carol"], workspace: "ws", request: id });
      expect((await w.audit.verify()).ok).toBe(true);
    });
  });

  describe("workspace files", () => {
    it("show released, under review, updated, withdrawn and unreleased against the viewer's request", async () => {
      for (const p of ["a.csv", "b.csv", "c.csv", "d.csv"]) w.backend.write("ws", `out/${p}`, SAFE_TABLE.replace("100", String(100 + 5 * p.charCodeAt(0))));
      w.backend.write("ws", "out/l3.csv", SAFE_TABLE, { level: "highly_sensitive", excluded: null });
      const add = (p: string) => w.airlock.addFile(alice, { workspace: "ws", path: p, group: GROUP });
      const id = (await add("out/a.csv")).request.id;
      await add("out/b.csv");
      await add("out/c.csv");
      await w.airlock.setGroupText(alice, id, GROUP, { context: "c", controls: "k" });
      await w.airlock.submit(alice, id, { confirm: true });
      await w.airlock.returnRequest(bob, id);
      await w.airlock.withdrawFile(alice, id, "out/c.csv");
      w.backend.write("ws", "out/b.csv", "group,count\nz,500\n");
      const status = Object.fromEntries((await w.airlock.workspaceFiles(alice, "ws")).map((f) => [f.path, f.status]));
      expect(status).toEqual({ "out/a.csv": "under_review", "out/b.csv": "updated", "out/c.csv": "withdrawn", "out/d.csv": "unreleased" });
      expect(Object.values(Object.fromEntries((await w.airlock.workspaceFiles(bob, "ws")).map((f) => [f.path, f.status])))).toEqual(["unreleased", "unreleased", "unreleased", "unreleased"]);
      await expect(w.airlock.workspaceFiles(eve, "ws")).rejects.toThrow(PermissionDenied);
      await expect(w.airlock.openWorkspaceFile(alice, "ws", "out/a.csv", "download")).rejects.toThrow("only output checkers can");
      expect((await w.airlock.openWorkspaceFile(alice, "ws", "out/a.csv", "view")).file).toMatch(/level4\/ws\/out\/a\.csv$/);
    });
  });
});
