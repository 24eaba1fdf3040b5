// `enclave demo`'s platform, driven in headless Chromium from end to end: the
// example study's jobs have run through the job server and the agent; the
// researcher opens Airlock (logging in with the job server account), puts the
// study's table in a release request and submits it; two output checkers
// approve it; the uploader sends it to the job server; the researcher finds it
// on the workspace's page outside, byte for byte the level 4 file.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Demo, runDemo } from "../../src/cli/demo.js";
import { ensureBuilt } from "../cli/helpers.js";
import { removeTempDirs, tempDir } from "../agent/helpers.js";
import { launchBrowser, noBrowser } from "../support/browser.js";

const TABLE = "output/asthma_by_age_band.csv";
let dir: string;
let demo: Demo;
let browser: Browser;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir("enclave-demo-");
  demo = await runDemo({ dir, patients: 300, port: 0, airlockPort: 0, openRelease: false, log: () => {}, print: () => {} });
  if (!noBrowser) browser = await launchBrowser();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  removeTempDirs();
});

describe("enclave demo", () => {
  it("has run the study's jobs: level 4 holds its table and chart", () => {
    const level4 = path.join(dir, "agent/level4/asthma-demo");
    expect(fs.readFileSync(path.join(level4, TABLE), "utf8")).toMatch(/^age_band,/);
    expect(fs.existsSync(path.join(level4, "output/asthma_by_age_band.png"))).toBe(true);
    expect(Object.keys(demo.logins).sort()).toEqual(["admin", "checker1", "checker2", "researcher"]);
  });
});

describe.skipIf(noBrowser)("the whole platform in a browser", () => {
  async function login(base: string, username: keyof Demo["logins"]): Promise<Page> {
    const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(demo.logins[username]);
    await page.getByRole("button", { name: "Log in" }).click();
    return page;
  }

  async function approveAsChecker(username: "checker1" | "checker2", id: string): Promise<Page> {
    const page = await login(demo.airlock, username);
    await page.getByRole("link", { name: "Output checking" }).click();
    await page.getByRole("link", { name: `Request ${id}` }).click();
    await page.getByLabel(`Your vote on ${TABLE}`).selectOption("approved");
    await page.getByRole("button", { name: "Save vote" }).click();
    await page.getByRole("button", { name: "Submit your review" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Your review was submitted");
    return page;
  }

  it("a researcher requests release, two checkers approve, and the file appears outside", async () => {
    const researcher = await login(demo.airlock, "researcher");
    await researcher.getByRole("link", { name: "asthma-demo", exact: true }).click();
    await researcher.getByRole("link", { name: "asthma_by_age_band.csv" }).click();
    await researcher.getByLabel("Group").fill("asthma");
    await researcher.getByLabel("Output: to be reviewed and released").check();
    await researcher.getByRole("button", { name: "Add to a new release request" }).click();
    const id = /\/requests\/(\d+)/.exec(researcher.url())![1]!;
    await researcher.getByLabel("Context").fill("Patients with asthma by age band");
    await researcher.getByLabel("Controls").fill("Counts of 7 or fewer suppressed, the rest rounded to 5");
    await researcher.getByRole("button", { name: "Save context and controls" }).click();
    await researcher.getByLabel(/I confirm that these outputs are aggregated/).check();
    await researcher.getByRole("button", { name: `Submit request ${id}` }).click();
    await expect.poll(() => researcher.getByRole("status").first().textContent()).toContain("submitted for review");

    await approveAsChecker("checker1", id);
    const second = await approveAsChecker("checker2", id);
    await second.getByRole("button", { name: "Approve the request" }).click();
    await expect.poll(() => second.getByRole("status").first().textContent()).toContain("The request was approved");

    // Outside: the researcher, logged in to the job server, finds the released file on the workspace's page.
    const outside = await login(demo.jobServer, "researcher");
    await expect
      .poll(
        async () => {
          await outside.goto(`${demo.jobServer}/workspaces/asthma-demo`);
          return outside.getByRole("link", { name: TABLE }).count();
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(1);
    const download = outside.waitForEvent("download");
    await outside.getByRole("link", { name: TABLE }).click();
    const file = await (await download).path();
    expect(fs.readFileSync(file!)).toEqual(fs.readFileSync(path.join(dir, "agent/level4/asthma-demo", TABLE)));
  }, 180_000);
});
