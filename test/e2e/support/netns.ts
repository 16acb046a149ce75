// Real network hops for e2e tests: a camera namespace and a viewer namespace, each joined to the host
// namespace (where the forwarder runs) by a veth pair, plus a direct veth between them for "direct" runs.
// Only 10.250.0.0/16 addresses and rtm-* names are used; everything made is removed by `remove()`.
import { execFileSync } from 'node:child_process';

export interface TestNetwork {
  /** Namespace the camera runs in, and its address toward the forwarder. */
  readonly cameraNs: string;
  readonly cameraAddress: string;
  /** Namespace the viewers run in. */
  readonly viewerNs: string;
  /** The forwarder's address as the viewers reach it (host side of the viewer veth). */
  readonly forwarderAddress: string;
  /** The camera's address as the viewers reach it without the forwarder (the direct veth). */
  readonly cameraDirectAddress: string;
  remove(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function hostHasSubnet(n: number): boolean {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  return out.includes(` 10.250.${n}.`);
}

/** Fails loudly when the test cannot make namespaces (not root, no iproute2): never a silent skip. */
export function requireNetns(): void {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    if (process.getuid?.() !== 0) throw new Error('not root');
  } catch (err) {
    throw new Error(`e2e prerequisite missing: network namespaces (root and iproute2's ip netns): ${String(err)}`);
  }
}

/** `prefix`: the namespaces' names begin with it (`rtm` by default; each test file may take its own). */
export function createTestNetwork(prefix = 'rtm'): TestNetwork {
  requireNetns();
  let n = 1 + Math.floor(Math.random() * 250);
  for (let tries = 0; hostHasSubnet(n) || listNs().includes(`${prefix}-${n}-cam`); tries += 1) {
    if (tries > 50) throw new Error('no free 10.250.N.0/24 test subnet');
    n = 1 + Math.floor(Math.random() * 250);
  }
  const cam = `${prefix}-${n}-cam`;
  const view = `${prefix}-${n}-view`;
  const made: Array<() => void> = [];
  const remove = (): void => {
    for (const undo of made.splice(0).reverse()) {
      try {
        undo();
      } catch {
        // already gone (deleting a namespace deletes its veth ends)
      }
    }
  };
  try {
    for (const ns of [cam, view]) {
      ip('netns', 'add', ns);
      made.push(() => ip('netns', 'del', ns));
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    // host <-> camera: 10.250.n.1 / .2; host <-> viewer: .5 / .6; viewer <-> camera direct: .9 / .10
    const pairs: Array<[string, string, string | undefined, string, string, string]> = [
      [`rtm${n}c`, `10.250.${n}.1/30`, undefined, cam, 'eth0', `10.250.${n}.2/30`],
      [`rtm${n}v`, `10.250.${n}.5/30`, undefined, view, 'eth0', `10.250.${n}.6/30`],
      [`rtm${n}d`, `10.250.${n}.9/30`, view, cam, 'eth1', `10.250.${n}.10/30`],
    ];
    for (const [hostEnd, hostAddr, hostNs, peerNs, peerName, peerAddr] of pairs) {
      ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', `${hostEnd}p`);
      made.push(() => ip('link', 'del', hostEnd));
      ip('link', 'set', `${hostEnd}p`, 'netns', peerNs);
      ip('-n', peerNs, 'link', 'set', `${hostEnd}p`, 'name', peerName);
      ip('-n', peerNs, 'addr', 'add', peerAddr, 'dev', peerName);
      ip('-n', peerNs, 'link', 'set', peerName, 'up');
      if (hostNs !== undefined) {
        ip('link', 'set', hostEnd, 'netns', hostNs);
        ip('-n', hostNs, 'addr', 'add', hostAddr, 'dev', hostEnd);
        ip('-n', hostNs, 'link', 'set', hostEnd, 'up');
      } else {
        ip('addr', 'add', hostAddr, 'dev', hostEnd);
        ip('link', 'set', hostEnd, 'up');
      }
    }
  } catch (err) {
    remove();
    throw err;
  }
  return {
    cameraNs: cam,
    cameraAddress: `10.250.${n}.2`,
    viewerNs: view,
    forwarderAddress: `10.250.${n}.5`,
    cameraDirectAddress: `10.250.${n}.10`,
    remove,
  };
}

function listNs(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}
