// Headless Chromium for the browser tests, through playwright-core and the
// system's /usr/bin/chromium (never a downloaded browser), with the flags that
// keep it off the network: it only ever talks to servers on 127.0.0.1. CI
// installs Chromium (.ci/run), so there a missing browser fails the tests
// rather than skipping them.

import * as fs from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Whether to skip the browser tests: only off CI, where Chromium may be missing. */
export const noBrowser = !fs.existsSync(CHROMIUM) && !process.env.CI;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}
