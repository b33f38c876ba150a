// Debian's chromium driven by playwright-core (no browser download): opens a page from file:// with the network
// cut off, and collects console errors, page errors and any request that is not file:// or data:.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { tool } from './tools';

/** Debian's chromium (scripts/setup.sh installs it); a missing browser fails the test naming the package. */
export const CHROMIUM = (): string => tool('chromium');

export interface OpenedPage {
  page: Page;
  errors: string[];
  /** Requests to anything but file: and data: URLs (the page must need none). */
  network: string[];
  close(): Promise<void>;
}

export async function openFile(file: string, viewport = { width: 1300, height: 900 }): Promise<OpenedPage> {
  const profile = mkdtempSync(join(tmpdir(), 'stubemu-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM(),
      headless: true,
      viewport,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  const network: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    network.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return {
    page,
    errors,
    network,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
