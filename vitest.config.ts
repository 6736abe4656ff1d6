import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure logic, parallel) and `integration` (the test stack's real
 * ClickHouse, 3-node Apache Kafka cluster and schema registry, started by
 * tests/support/global-setup.ts; files run one at a time because they share that cluster,
 * some of them kill its nodes, and the machine has two cores).
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    // One file at a time: integration files share one Kafka cluster (fault tests kill its
    // nodes), and the machine has two cores. (Per-project file parallelism is not configurable in vitest 3.)
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
