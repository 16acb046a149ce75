// A durable write killed at its worst moment: between writing the new content and the rename, and between the
// rename and the folder's fsync. A real process is killed (SIGKILL) there, as a crash or an OOM kill would,
// and what it leaves is read back: the old content whole, or the new content whole, never a torn file.
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useScratch } from '../support/scratch.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const durableFile = pathToFileURL(path.join(repoRoot, 'dist/functions/durable/index.js')).href;
const scratch = useScratch('shifu-durable-');

/** Runs `call` (a replaceFile or commitFile call) in a child whose DurableFs kills it at `killAt`; resolves with the signal. */
async function killedAt(killAt: 'rename' | 'syncDir', call: string): Promise<NodeJS.Signals | null> {
  const script = `
    import { diskFs, replaceFile, commitFile } from ${JSON.stringify(durableFile)};
    const die = () => { process.kill(process.pid, 'SIGKILL'); return new Promise(() => {}); };
    const fs = { ...diskFs, ${killAt}: die };
    await ${call};
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  if (signal !== 'SIGKILL') throw new Error(`the child was not killed where asked (exit ${String(signal)}): ${stderr}`);
  return signal;
}

describe('durable files (functions/durable)', () => {
  it('replaceFile killed between writing the new content and the rename leaves the old content whole', async () => {
    const file = path.join(scratch.dir, 'manifest.json');
    await writeFile(file, '{"files":{"a.mp4":1}}\n');
    await killedAt('rename', `replaceFile(${JSON.stringify(file)}, '{"files":{"a.mp4":1,"b.mp4":2}}\\n', fs)`);
    expect(await readFile(file, 'utf8')).toBe('{"files":{"a.mp4":1}}\n');
    // The new content waits, whole, under the temporary name that readers skip.
    expect(await readFile(`${file}.tmp`, 'utf8')).toBe('{"files":{"a.mp4":1,"b.mp4":2}}\n');
  });

  it('replaceFile killed after the rename, before the folder fsync, leaves the new content whole', async () => {
    const file = path.join(scratch.dir, 'cursor.json');
    await writeFile(file, '{"sequence":41}\n');
    // The real rename runs; the kill comes at the folder's fsync.
    await killedAt('syncDir', `replaceFile(${JSON.stringify(file)}, '{"sequence":42}\\n', fs)`);
    expect(await readFile(file, 'utf8')).toBe('{"sequence":42}\n');
    expect((await readdir(scratch.dir)).filter((n) => n.startsWith('cursor'))).toEqual(['cursor.json']);
  });

  it('commitFile killed before the rename leaves no file under the final name, and the finished one whole beside it', async () => {
    const partial = path.join(scratch.dir, 'cam_20261206T000000Z.mp4.partial');
    const final = path.join(scratch.dir, 'cam_20261206T000000Z.mp4');
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    await writeFile(partial, body);
    await killedAt('rename', `commitFile(${JSON.stringify(partial)}, ${JSON.stringify(final)}, fs)`);
    await expect(readFile(final)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readFile(partial)).equals(body)).toBe(true);
  });
});
