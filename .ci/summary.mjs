// Prints the plain closing line 'N passed, N failed' from vitest's JSON reports; exits 1 if any test failed or none ran.
// Above it, each failed test's file, name and the first lines of its failure: CI keeps only the end of a long log,
// and a failure told far above it would be lost.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
const firstLines = (messages) =>
  (messages ?? []).join('\n').split('\n').slice(0, 12).map((line) => `    ${line}`).join('\n');
for (const file of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const f of report.testResults ?? []) {
    const name = relative(process.cwd(), f.name ?? '?');
    const failedTests = (f.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failedTests) failures.push(`FAILED ${name} > ${a.fullName ?? a.title}\n${firstLines(a.failureMessages)}`);
    // A file that failed with no failed test in it (import error, failing hook) counts once: failed suites
    // also count every describe block around a failed test, which would overstate the failures.
    if (f.status === 'failed' && failedTests.length === 0) {
      failed += 1;
      failures.push(`FAILED ${name} (the file, outside any test)\n${firstLines([f.message ?? ''])}`);
    }
  }
  if (report.success === false && failed === 0) {
    failed += 1;
    failures.push(`FAILED ${relative(process.cwd(), file)}: the run reported no success and no failed test`);
  }
}
for (const failure of failures) console.log(failure);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 || skipped > 0 ? 1 : 0);
