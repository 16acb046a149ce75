// Build step (`npm run build`, the Dockerfile), never run in a workload: the commands that run one process
// per camera (functions/lean.ts: the recorder) bundled into one tree-shaken, minified graph. A Node keeps the source of every module it loads and a record per module; through
// ~400 files that is megabytes a camera (issue 24: zod's unused locales alone, 0.5 MiB of two-byte source).
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

/** Where cli.js looks for the bundle, beside itself. */
export const LEAN_DIR = fileURLToPath(new URL('./lean/', import.meta.url));

export async function bundleLeanCli(): Promise<void> {
  await rm(LEAN_DIR, { recursive: true, force: true });
  await build({
    input: fileURLToPath(new URL('./lean.js', import.meta.url)),
    platform: 'node',
    logLevel: 'warn',
    // prom-client's only use of the tracing API is exemplars, which are off everywhere here: see lean-no-tracing.ts.
    resolve: {
      alias: { '@opentelemetry/api': fileURLToPath(new URL('./lean-no-tracing.js', import.meta.url)) },
      // A package's ES modules before its CommonJS build (rolldown's node default is the reverse). AWS's SDK
      // declares no `exports` map, so `main` gave its CommonJS: one file per package, kept whole, the S3 client
      // with every command, shape and paginator. Its ES modules are tree-shaken and its credential providers
      // load only when asked for (issue 25: 2 MiB less heap for a recorder with a bucket).
      mainFields: ['module', 'main'],
    },
    output: {
      dir: LEAN_DIR,
      format: 'esm',
      // Names are kept, so log lines and error types read as before
      // (pino's `err.type` is the class name); ASCII only, so no source is stored two bytes a character.
      minify: {
        compress: { keepNames: { function: true, class: true } },
        mangle: { keepNames: { function: true, class: true } },
        codegen: { removeWhitespace: true, asciiOnly: true },
      },
    },
  });
}

await bundleLeanCli();
