import { useCallback, useMemo, useState } from 'react';
import { Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { TableCard } from '../cards.tsx';
import { ChartFrame, ThroughputChart } from '../ChartFrame.tsx';
import { ConnectionBadge } from '../ConnectionBadge.tsx';
import { formatClock, formatInteger, formatNumber } from '../format.ts';
import { useEventStream } from '../hooks.ts';
import type { PipelineSnapshot } from '../types.ts';

/** Snapshots older than this (behind the newest) leave the chart. */
const WINDOW_MS = 5 * 60_000;
const MAX_SNAPSHOTS = 3_000;

function isSnapshot(data: unknown): data is PipelineSnapshot {
  if (typeof data !== 'object' || data === null) return false;
  const snapshot = data as Partial<PipelineSnapshot>;
  return (
    typeof snapshot.time === 'number' &&
    Array.isArray(snapshot.topics) &&
    Array.isArray(snapshot.groups) &&
    Array.isArray(snapshot.deadLetters) &&
    Array.isArray(snapshot.services)
  );
}

export function PipelinePage() {
  const [snapshots, setSnapshots] = useState<PipelineSnapshot[]>([]);
  const onMessage = useCallback((data: unknown) => {
    if (!isSnapshot(data)) return;
    setSnapshots((previous) => {
      const kept = previous.filter(
        (snapshot) => snapshot.time > data.time - WINDOW_MS && snapshot.time < data.time,
      );
      kept.push(data);
      return kept.slice(-MAX_SNAPSHOTS);
    });
  }, []);
  const connection = useEventStream('/v1/console/pipeline/events', 'pipeline', onMessage);
  const latest = snapshots.at(-1);

  const { topics, series } = useMemo(() => {
    const names = [
      ...new Set(snapshots.flatMap((snapshot) => snapshot.topics.map((topic) => topic.topic))),
    ].sort();
    const rows = snapshots.map((snapshot) => {
      const row: Record<string, number> = { time: snapshot.time };
      for (const topic of snapshot.topics) row[topic.topic] = topic.messagesPerSecond;
      return row;
    });
    return { topics: names, series: rows };
  }, [snapshots]);

  return (
    <Stack gap="lg">
      <Group justify="space-between" align="center">
        <Title order={2}>Pipeline</Title>
        <ConnectionBadge state={connection.state} error={connection.error} />
      </Group>
      <Text size="sm" c="dimmed">
        {latest === undefined
          ? 'Waiting for the first snapshot…'
          : `Last snapshot at ${formatClock(latest.time)}; ${snapshots.length} snapshots in the last 5 minutes.`}
      </Text>
      <ChartFrame
        testId="chart-throughput"
        title="Throughput (messages per second)"
        empty={series.length === 0 ? 'No snapshots yet' : undefined}
        summary={
          latest === undefined
            ? 'No data yet.'
            : `Now: ${latest.topics.map((topic) => `${topic.topic} ${formatNumber(topic.messagesPerSecond, 1)} msg/s`).join(', ') || 'no topics'}.`
        }
      >
        <ThroughputChart
          data={series}
          topics={topics}
          title="Throughput"
          desc="Messages per second per topic over the last 5 minutes"
        />
      </ChartFrame>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <TableCard
          title="Consumer lag"
          headingId="lag-heading"
          testId="lag-table"
          minWidth={320}
          columns={[{ label: 'Group' }, { label: 'Topic' }, { label: 'Lag', align: 'right' }]}
          rows={(latest?.groups ?? []).map((group) => (
            <Table.Tr
              key={`${group.group}/${group.topic}`}
              data-group={group.group}
              data-topic={group.topic}
            >
              <Table.Td>{group.group}</Table.Td>
              <Table.Td>{group.topic}</Table.Td>
              <Table.Td ta="right">{formatInteger(group.lag)}</Table.Td>
            </Table.Tr>
          ))}
          empty="No consumer groups yet."
        />
        <TableCard
          title="Dead letters"
          headingId="dlq-heading"
          testId="dlq-table"
          minWidth={280}
          columns={[{ label: 'Topic' }, { label: 'Messages', align: 'right' }]}
          rows={(latest?.deadLetters ?? []).map((dlq) => (
            <Table.Tr key={dlq.topic} data-topic={dlq.topic}>
              <Table.Td>{dlq.topic}</Table.Td>
              <Table.Td ta="right">
                <Badge color={dlq.messages > 0 ? 'red' : 'gray'} variant="light">
                  {formatInteger(dlq.messages)}
                </Badge>
              </Table.Td>
            </Table.Tr>
          ))}
          empty="No dead-letter topics yet."
        />
      </SimpleGrid>
      <section aria-labelledby="readiness-heading">
        <Title order={3} size="h5" mb="xs" id="readiness-heading">
          Service readiness
        </Title>
        <SimpleGrid cols={{ base: 1, xs: 2, lg: 3 }} data-testid="readiness-grid">
          {(latest?.services ?? []).map((service) => {
            const failing = Object.entries(service.checks)
              .filter(([, ok]) => !ok)
              .map(([name]) => name);
            return (
              <Card
                key={service.name}
                withBorder
                radius="md"
                padding="sm"
                data-testid={`service-${service.name}`}
                data-ready={service.ready}
              >
                <Group justify="space-between" wrap="nowrap" gap="xs">
                  <Text fw={600} truncate>
                    {service.name}
                  </Text>
                  <Badge color={service.ready ? 'green' : 'red'} variant="filled">
                    {service.ready ? 'ready' : 'not ready'}
                  </Badge>
                </Group>
                {failing.length > 0 && (
                  <Text size="sm" c="red.8" mt={4}>
                    failing: {failing.join(', ')}
                  </Text>
                )}
                {service.error !== undefined && service.error !== '' && (
                  <Text size="sm" c="dimmed" mt={4}>
                    {service.error}
                  </Text>
                )}
              </Card>
            );
          })}
        </SimpleGrid>
        {(latest?.services.length ?? 0) === 0 && (
          <Text size="sm" c="dimmed">
            No services reported yet.
          </Text>
        )}
      </section>
    </Stack>
  );
}
