/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by `make install`; CHROMIUM_PATH to use
 * another) driven by playwright-core, for the console's end-to-end tests. Never a downloaded
 * browser. Screenshots go to var/test-screenshots/ (ignored); docs/console/ holds a few
 * committed copies for the README.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { REPO_ROOT } from './stack.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(REPO_ROOT, 'var', 'test-screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: make install puts Debian's there`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // Root in CI has no user namespace for the sandbox; the pages are our own.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** Saves a full-page screenshot as var/test-screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
