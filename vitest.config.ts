import { defineConfig, type ViteUserConfig } from 'vitest/config';

type Reporters = NonNullable<NonNullable<ViteUserConfig['test']>['reporters']>;

// Four tiers: unit (no processes), e2e (real ffmpeg, GStreamer cameras and players; its long, idle watches
// split off as e2e-watch),
// k8s (a real kube-apiserver + etcd started once per run by the global setup), cluster (a real
// single-node cluster: kubelet, containerd, CoreDNS; the image built from the Dockerfile in real pods).
// Under CI each run also writes a JSON report, from which .ci/summary.mjs prints 'N passed, N failed'.
const reporters: Reporters =
  process.env.CI === 'true'
    ? ['default', ['json', { outputFile: `.ci-results/vitest-${Date.now()}-${process.pid}.json` }]]
    : ['default'];

export default defineConfig({
  test: {
    reporters,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: ['test/e2e/**/*.watch.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          setupFiles: ['test/e2e/support/leak-guard.ts'],
          // Media tests measure wall-clock behaviour of real processes: two cores, so one file at a time.
          fileParallelism: false,
        },
      },
      {
        // e2e tests that spend minutes watching for something that must NOT happen (a fourth login, a poll),
        // nearly idle meanwhile: `npm test` runs them in a process of their own beside the e2e tier.
        test: {
          name: 'e2e-watch',
          include: ['test/e2e/**/*.watch.test.ts'],
          testTimeout: 420_000,
          hookTimeout: 60_000,
          setupFiles: ['test/e2e/support/leak-guard.ts'],
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'k8s',
          include: ['test/k8s/**/*.test.ts'],
          globalSetup: ['test/k8s/harness/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/cluster/harness/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
