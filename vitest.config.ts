// Two test projects: `unit` tests sit next to the code and need nothing
// running; `integration` tests in test/ talk to real Dovecot, Cassandra and
// S3Proxy servers that test/services/global-setup.ts starts once per run.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Stopping Cassandra and Dovecot after the run takes a few seconds.
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          // Unit tests first, on their own: they need no servers and fail fastest.
          sequence: { groupOrder: 0 },
          include: [
            'proxy/src/**/*.test.ts', 'schemas/src/**/*.test.ts', 'middleware/src/**/*.test.ts', 'cmp-ui/src/**/*.test.ts',
            // Test tools' own tests (the IMAP invariant checker, the differential harness).
            'test/helpers/**/*.test.ts',
          ],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/services/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // The servers share the machine's 2 cores with the test workers;
          // more workers would only make timings noisier.
          maxWorkers: 2,
        },
      },
    ],
  },
});
