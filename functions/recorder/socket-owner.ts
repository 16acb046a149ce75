// Which process holds the other end of a loopback TCP connection, from /proc (Linux). The camera relay
// logs in to the camera for whoever connects, so it must serve only the recorder's own ffmpeg and ffprobe:
// on a shared host any user could otherwise watch the camera through it while a run lasts.
import { readdir, readFile, readlink } from 'node:fs/promises';

/** The inode of the IPv4 TCP socket bound to 127.0.0.1:`port` and connected to 127.0.0.1:`peerPort`. */
async function socketInode(port: number, peerPort: number): Promise<string | undefined> {
  const table = await readFile('/proc/net/tcp', 'latin1');
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const remote = `:${peerPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1]?.endsWith(local) && f[2]?.endsWith(remote)) return f[9];
  }
  return undefined;
}

async function holdsSocket(pid: number, inode: string): Promise<boolean> {
  const target = `socket:[${inode}]`;
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if ((await readlink(`/proc/${pid}/fd/${fd}`)) === target) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * Whether the peer of a connection accepted on 127.0.0.1 (its port `peerPort`, ours `port`) is one of
 * `pids`. Without /proc (not Linux) there is no way to tell, and the answer is yes.
 */
export async function peerIsOneOf(port: number, peerPort: number, pids: readonly number[]): Promise<boolean> {
  let inode: string | undefined;
  try {
    inode = await socketInode(peerPort, port);
  } catch {
    return true;
  }
  if (inode === undefined || inode === '0') return false;
  for (const pid of pids) if (await holdsSocket(pid, inode)) return true;
  return false;
}
