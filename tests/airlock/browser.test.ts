// The whole flow inside Airlock in headless Chromium, with JavaScript off (the
// pages must work without it): a researcher adds a file to a new release
// request and submits it; two output checkers each vote and submit their
// review; one approves; the uploader sends the file to the (fake) job server
// and the request shows as released.

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, noBrowser } from "../support/browser.js";
import { CSV, TABLE_V2, WS, type WebWorld, startWebWorld } from "./web-helpers.js";

describe.skipIf(noBrowser)("Airlock in a browser", () => {
  let w: WebWorld;
  let browser: Browser;

  beforeAll(async () => {
    w = await startWebWorld({ uploader: { intervalMs: 50, initialBackoffMs: 50, maxBackoffMs: 200 } });
    // A table that passes the automated check, so the flow is the plain one.
    w.backend.write(WS, CSV, TABLE_V2.replace("a,10", "a,15"));
    browser = await launchBrowser();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await w?.close();
  });

  async function login(username: string): Promise<Page> {
    const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await page.goto(`${w.base}/login`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(`pw-${username}`);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${w.base}/`);
    return page;
  }

  async function reviewAndApproveFile(page: Page, id: string): Promise<void> {
    await page.getByRole("link", { name: "Output checking" }).click();
    await page.getByRole("link", { name: `Request ${id}` }).click();
    await page.getByLabel(`Your vote on ${CSV}`).selectOption("approved");
    await page.getByRole("button", { name: "Save vote" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Your vote was recorded");
    await page.getByRole("button", { name: "Submit your review" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Your review was submitted");
  }

  it("takes a file from a researcher's workspace, through two reviews, to the job server", async () => {
    const alice = await login("alice");
    await alice.getByRole("link", { name: WS, exact: true }).click();
    await alice.getByRole("link", { name: "table.csv" }).click();
    expect(await alice.getByRole("heading", { level: 1 }).textContent()).toBe(CSV);
    expect(await alice.getByRole("table", { name: "One row per column of the file" }).isVisible()).toBe(true);
    await alice.getByLabel("Group").fill("tables");
    await alice.getByLabel("Output: to be reviewed and released").check();
    await alice.getByRole("button", { name: "Add to a new release request" }).click();
    await expect.poll(() => alice.getByRole("status").first().textContent()).toContain("The file was added");
    const id = /\/requests\/(\d+)/.exec(alice.url())![1]!;
    await alice.getByLabel("Context").fill("Counts of patients by group");
    await alice.getByLabel("Controls").fill("Counts under 8 suppressed, all rounded to 5");
    await alice.getByRole("button", { name: "Save context and controls" }).click();
    // The browser itself refuses the form until the confirmation is ticked.
    await alice.getByRole("button", { name: `Submit request ${id}` }).click();
    expect(alice.url()).not.toContain("done=submitted");
    await alice.getByLabel(/I confirm that these outputs are aggregated/).check();
    await alice.getByRole("button", { name: `Submit request ${id}` }).click();
    await expect.poll(() => alice.getByRole("status").first().textContent()).toContain("submitted for review");

    const bob = await login("bob");
    await reviewAndApproveFile(bob, id);
    const carol = await login("carol");
    await reviewAndApproveFile(carol, id);
    await carol.getByRole("button", { name: "Approve the request" }).click();
    await expect.poll(() => carol.getByRole("status").first().textContent()).toContain("The request was approved");

    await expect.poll(() => [...w.fake.releases.values()].flatMap((r) => r.files.filter((f) => f.received).map((f) => f.name)), { timeout: 10_000 }).toEqual([CSV]);
    await expect
      .poll(
        async () => {
          await alice.goto(`${w.base}/requests/${id}`);
          return alice.locator("dl").first().textContent();
        },
        { timeout: 10_000 },
      )
      .toContain("released");
    expect([...w.fake.releases.values()][0]).toMatchObject({ workspace: WS, request: id, releasedBy: "carol" });
    // Keyboard users see where they are.
    await alice.keyboard.press("Tab");
    // Evaluated in the page, where the DOM's globals exist (this file is compiled without them).
    const outline = await alice.evaluate("getComputedStyle(document.activeElement).outlineStyle");
    expect(outline).not.toBe("none");
  }, 60_000);
});
