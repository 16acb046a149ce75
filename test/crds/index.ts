// The CustomResourceDefinitions the k8s and cluster tiers install, found without anything beside the
// repository: Knative Serving's own, unchanged, from its Go module (ensure-serving-crds.sh, cached by
// version), and Knative Eventing's Broker, Trigger and SinkBinding and Shifu's EdgeDevice, written here
// from their published API types (their modules are not served by the Go module proxy).
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** This folder: the CRDs written in the repository (shifu/, knative-eventing/). */
export const repositoryCrdDir = import.meta.dirname;

/** Runs ensure-serving-crds.sh and returns the cached folder of Knative Serving's CRDs. */
export async function servingCrdDir(timeoutMs = 600_000): Promise<string> {
  const script = path.join(repositoryCrdDir, 'ensure-serving-crds.sh');
  try {
    const { stdout } = await promisify(execFile)('bash', [script], { timeout: timeoutMs, maxBuffer: 1 << 20 });
    const dir = stdout.trim().split('\n').at(-1)?.trim();
    if (!dir) throw new Error('it printed no folder');
    return dir;
  } catch (err) {
    const detail = err instanceof Error ? ('stderr' in err ? String(err.stderr) : '') || err.message : String(err);
    throw new Error(`${script} failed: Knative Serving's CRDs come from the Go module proxy through go (/usr/local/go/bin/go or GO): ${detail.trim()}`);
  }
}

/** Every folder of CRDs to install, in order. */
export async function crdDirectories(): Promise<string[]> {
  return [repositoryCrdDir, await servingCrdDir()];
}

/** All *.yaml files under `dir`, recursively, sorted. */
export async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/i.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
