// Debian's Chromium inside a network namespace, for WebRTC tests: every ICE agent then gathers and checks only
// that namespace's addresses. playwright starts it through a wrapper that execs `ip netns exec` (its pipes
// survive the exec).
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A browser context in `netns` with a fresh profile; `close()` closes it and removes the profile. */
export async function chromiumInNetns(netns: string): Promise<{ browser: BrowserContext; close: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shifu-chromium-netns-'));
  const wrapper = path.join(dir, 'chromium-in-netns');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${netns} ${CHROMIUM} "$@"\n`);
  await chmod(wrapper, 0o755);
  const browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: wrapper,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      // Host candidates as addresses, not mDNS names: the forwarder's ICE agent resolves no .local names.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
