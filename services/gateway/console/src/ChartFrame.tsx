import { Suspense, lazy, type ReactNode } from 'react';
import { Center, Loader, Paper, Text, Title } from '@mantine/core';

/** The charts module, fetched the first time a chart is shown. */
const charts = () => import('./charts.tsx');
export const CountBarChart = lazy(() => charts().then((m) => ({ default: m.CountBarChart })));
export const ThroughputChart = lazy(() => charts().then((m) => ({ default: m.ThroughputChart })));
export const DistanceChart = lazy(() => charts().then((m) => ({ default: m.DistanceChart })));

/**
 * A chart with its title and a text summary (the figure's caption, which screen readers and
 * tests can read): `testId` marks the figure.
 */
export function ChartFrame({
  testId,
  title,
  summary,
  children,
  empty,
}: {
  testId: string;
  title: string;
  summary: ReactNode;
  children: ReactNode;
  /** Shown instead of the chart when set (no data yet). */
  empty?: string | undefined;
}) {
  return (
    <Paper
      withBorder
      p="sm"
      radius="md"
      component="figure"
      className="chart-frame"
      data-testid={testId}
      aria-label={title}
    >
      <Title order={3} size="h5" mb="xs">
        {title}
      </Title>
      <div className="chart-box">
        {empty !== undefined ? (
          <Center h="100%">
            <Text c="dimmed" size="sm">
              {empty}
            </Text>
          </Center>
        ) : (
          <Suspense
            fallback={
              <Center h="100%">
                <Loader size="sm" aria-label="Loading chart" />
              </Center>
            }
          >
            {children}
          </Suspense>
        )}
      </div>
      <Text component="figcaption" size="sm" c="dimmed">
        {summary}
      </Text>
    </Paper>
  );
}
