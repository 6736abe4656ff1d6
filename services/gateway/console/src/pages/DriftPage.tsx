import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Alert,
  Badge,
  Group,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Timeline,
  Title,
} from '@mantine/core';
import { api } from '../api.ts';
import { TableCard, TimelineCard } from '../cards.tsx';
import { ChartFrame, DistanceChart } from '../ChartFrame.tsx';
import { ConnectionBadge } from '../ConnectionBadge.tsx';
import { formatDateTime, formatDuration, formatNumber, formatShortDateTime } from '../format.ts';
import { useEventStream, useLoad } from '../hooks.ts';
import type { DriftCheck, DriftEpisode, DriftEvent } from '../types.ts';

const HOURS = 24;
/** After a live event, the checks and episodes are fetched again this much later. */
const RELOAD_DELAY_MS = 1500;
const TIMELINE_ITEMS = 50;

const STATE_COLOR: Record<string, string> = {
  OK: 'green',
  DRIFT: 'red',
  INSUFFICIENT_DATA: 'gray',
  ERROR: 'orange',
};
const stateColor = (state: string) => STATE_COLOR[state] ?? 'gray';

function isDriftEvent(data: unknown): data is DriftEvent {
  if (typeof data !== 'object' || data === null) return false;
  const event = data as Partial<DriftEvent>;
  return (
    typeof event.eventId === 'string' &&
    typeof event.eventTime === 'number' &&
    typeof event.modelVersion === 'string' &&
    typeof event.segment === 'string' &&
    typeof event.state === 'string' &&
    (event.kind === 'STATE_CHANGE' || event.kind === 'STATUS')
  );
}

interface TimelineEntry {
  key: string;
  time: number;
  state: string;
  previousState: string | null;
  predictionState: string;
  reason: string | null;
  source: 'check' | 'event';
}

/** Distinct values, the most recently seen first. */
function byRecency(items: { value: string; time: number }[]): string[] {
  const latest = new Map<string, number>();
  for (const { value, time } of items)
    latest.set(value, Math.max(time, latest.get(value) ?? -Infinity));
  return [...latest.entries()].sort((a, b) => b[1] - a[1]).map(([value]) => value);
}

export function DriftPage() {
  const checks = useLoad((signal) => api.driftChecks(HOURS, signal));
  const episodes = useLoad((signal) => api.driftEpisodes(signal));
  const [events, setEvents] = useState<DriftEvent[]>([]);
  const [chosenVersion, setChosenVersion] = useState<string | null>(null);
  const [chosenSegment, setChosenSegment] = useState<string | null>(null);

  const reloadTimer = useRef<number | undefined>(undefined);
  const { reload: reloadChecks } = checks;
  const { reload: reloadEpisodes } = episodes;
  const onMessage = useCallback(
    (data: unknown) => {
      if (!isDriftEvent(data)) return;
      setEvents((previous) =>
        previous.some((event) => event.eventId === data.eventId)
          ? previous
          : [...previous, data].slice(-500),
      );
      window.clearTimeout(reloadTimer.current);
      reloadTimer.current = window.setTimeout(() => {
        reloadChecks();
        reloadEpisodes();
      }, RELOAD_DELAY_MS);
    },
    [reloadChecks, reloadEpisodes],
  );
  useEffect(() => () => window.clearTimeout(reloadTimer.current), []);
  const connection = useEventStream('/v1/console/drift/events', 'drift', onMessage);

  const allChecks = useMemo(() => checks.data?.checks ?? [], [checks.data]);
  const allEpisodes = useMemo(() => episodes.data?.episodes ?? [], [episodes.data]);

  const versions = useMemo(
    () =>
      byRecency([
        ...allChecks.map((check) => ({ value: check.modelVersion, time: check.time })),
        ...allEpisodes.map((episode) => ({ value: episode.modelVersion, time: episode.startTime })),
        ...events.map((event) => ({ value: event.modelVersion, time: event.eventTime })),
      ]),
    [allChecks, allEpisodes, events],
  );
  const segments = useMemo(
    () =>
      byRecency([
        ...allChecks.map((check) => ({ value: check.segment, time: check.time })),
        ...allEpisodes.map((episode) => ({ value: episode.segment, time: episode.startTime })),
        ...events.map((event) => ({ value: event.segment, time: event.eventTime })),
      ]),
    [allChecks, allEpisodes, events],
  );
  const version = chosenVersion ?? versions[0] ?? null;
  const segment = chosenSegment ?? segments[0] ?? null;

  const selected = useMemo(
    () =>
      allChecks
        .filter((check) => check.modelVersion === version && check.segment === segment)
        .sort((a, b) => a.time - b.time),
    [allChecks, version, segment],
  );
  const selectedEvents = useMemo(
    () => events.filter((event) => event.modelVersion === version && event.segment === segment),
    [events, version, segment],
  );

  const lastCheck = selected.at(-1);
  const lastEvent = selectedEvents.at(-1);
  // The newer of the last event and the last check (the feed replays recent events on connect).
  const current: { state: string; predictionState: string; time: number } | null =
    lastEvent !== undefined && (lastCheck === undefined || lastEvent.eventTime >= lastCheck.time)
      ? {
          state: lastEvent.state,
          predictionState: lastEvent.predictionDriftState,
          time: lastEvent.eventTime,
        }
      : lastCheck !== undefined
        ? {
            state: lastCheck.inputState,
            predictionState: lastCheck.predictionState,
            time: lastCheck.time,
          }
        : null;

  const timeline = useMemo(
    () => stateTimeline(selected, selectedEvents),
    [selected, selectedEvents],
  );

  const inputData = selected.map((check) => ({
    time: check.time,
    value: check.inputDistance,
    threshold: check.inputThreshold,
  }));
  const classMixData = selected.map((check) => ({
    time: check.time,
    value: check.classMixDistance,
    threshold: check.classMixThreshold,
  }));
  const above = (data: { value: number; threshold: number }[]) =>
    data.filter((datum) => datum.value > datum.threshold).length;
  const noData =
    selected.length === 0
      ? checks.loading
        ? 'Loading…'
        : 'No checks in the last 24 hours'
      : undefined;

  const sortedEpisodes = [...allEpisodes].sort((a, b) => b.startTime - a.startTime);

  return (
    <Stack gap="lg">
      <Group justify="space-between" align="center">
        <Title order={2}>Drift</Title>
        <ConnectionBadge state={connection.state} error={connection.error} />
      </Group>
      {checks.error !== null && (
        <Alert color="red" title="Drift checks could not be loaded">
          {checks.error}
        </Alert>
      )}
      {episodes.error !== null && (
        <Alert color="red" title="Drift episodes could not be loaded">
          {episodes.error}
        </Alert>
      )}
      <Group align="flex-end" gap="md" wrap="wrap">
        <Select
          label="Model version"
          data={versions}
          value={version}
          onChange={setChosenVersion}
          allowDeselect={false}
          comboboxProps={{ keepMounted: false }}
          placeholder={versions.length === 0 ? 'No versions yet' : 'Choose a version'}
          w={{ base: '100%', xs: 220 }}
          data-testid="drift-version"
        />
        <Select
          label="Segment"
          data={segments}
          value={segment}
          onChange={setChosenSegment}
          allowDeselect={false}
          comboboxProps={{ keepMounted: false }}
          placeholder={segments.length === 0 ? 'No segments yet' : 'Choose a segment'}
          w={{ base: '100%', xs: 220 }}
          data-testid="drift-segment"
        />
        <Stack gap={2}>
          <Text size="sm" fw={500} id="drift-state-label">
            Current state
          </Text>
          <Group gap="xs" h={36}>
            <Badge
              size="lg"
              color={current === null ? 'gray' : stateColor(current.state)}
              data-testid="drift-state"
              aria-labelledby="drift-state-label"
            >
              {current?.state ?? 'NO DATA'}
            </Badge>
            {current !== null && (
              <Text size="sm" c="dimmed" data-testid="drift-prediction-state">
                predictions: {current.predictionState} · {formatDateTime(current.time)}
              </Text>
            )}
          </Group>
        </Stack>
      </Group>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <ChartFrame
          testId="chart-drift-input"
          title="Input distance"
          empty={noData}
          summary={
            lastCheck === undefined
              ? 'No checks for this version and segment.'
              : `${selected.length} checks; latest input distance ${formatNumber(lastCheck.inputDistance, 4)} (threshold ${formatNumber(lastCheck.inputThreshold, 4)})${lastCheck.domainAuc === null ? '' : `, domain AUC ${formatNumber(lastCheck.domainAuc, 3)}${lastCheck.domainAucThreshold === null ? '' : ` (threshold ${formatNumber(lastCheck.domainAucThreshold, 3)})`}`}; ${above(inputData)} checks above the threshold.`
          }
        >
          <DistanceChart
            data={inputData}
            valueName="input distance"
            title="Input distance"
            desc="Input drift distance per check against its threshold"
          />
        </ChartFrame>
        <ChartFrame
          testId="chart-drift-classmix"
          title="Class-mix distance"
          empty={noData}
          summary={
            lastCheck === undefined
              ? 'No checks for this version and segment.'
              : `Latest class-mix distance ${formatNumber(lastCheck.classMixDistance, 4)} (threshold ${formatNumber(lastCheck.classMixThreshold, 4)}); ${above(classMixData)} of ${selected.length} checks above the threshold.`
          }
        >
          <DistanceChart
            data={classMixData}
            valueName="class-mix distance"
            title="Class-mix distance"
            desc="Predicted class-mix distance per check against its threshold"
          />
        </ChartFrame>
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, xl: 2 }}>
        <TimelineCard
          title="State changes"
          headingId="drift-timeline-heading"
          testId="drift-timeline"
          items={timeline.map((entry) => (
            <Timeline.Item
              key={entry.key}
              color={stateColor(entry.state)}
              title={
                entry.previousState === null
                  ? entry.state
                  : `${entry.previousState} → ${entry.state}`
              }
              data-testid="drift-timeline-item"
              data-state={entry.state}
            >
              <Text size="xs" c="dimmed">
                {formatDateTime(entry.time)} · predictions {entry.predictionState}
                {entry.source === 'event' ? ' · live' : ''}
              </Text>
              {entry.reason !== null && entry.reason !== '' && (
                <Text size="sm">{entry.reason}</Text>
              )}
            </Timeline.Item>
          ))}
          empty="No state changes for this version and segment."
        />
        <TableCard
          title="Drift episodes"
          headingId="drift-episodes-heading"
          testId="drift-episodes"
          minWidth={420}
          headingGap="sm"
          columns={[
            { label: 'Version' },
            { label: 'Segment' },
            { label: 'Start' },
            { label: 'End' },
            { label: 'Duration' },
          ]}
          rows={sortedEpisodes.map((episode) => (
            <EpisodeRow
              key={`${episode.modelVersion}/${episode.segment}/${episode.startTime}`}
              episode={episode}
              selected={episode.modelVersion === version && episode.segment === segment}
            />
          ))}
          empty={episodes.loading ? 'Loading…' : 'No drift episodes.'}
        />
      </SimpleGrid>
    </Stack>
  );
}

function EpisodeRow({ episode, selected }: { episode: DriftEpisode; selected: boolean }) {
  const end = episode.endTime;
  return (
    <Table.Tr
      data-testid="drift-episode"
      bg={selected ? 'var(--mantine-color-indigo-light)' : undefined}
    >
      <Table.Td>{episode.modelVersion}</Table.Td>
      <Table.Td>{episode.segment}</Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatShortDateTime(episode.startTime)}</Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>
        {end === null ? (
          <Badge color="red" variant="light">
            ongoing
          </Badge>
        ) : (
          formatShortDateTime(end)
        )}
      </Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>
        {formatDuration((end ?? Date.now()) - episode.startTime)}
      </Table.Td>
    </Table.Tr>
  );
}

/**
 * State changes, newest first: where a check's input state differs from the previous check's
 * (the first check counts as the state it starts in), and the live STATE_CHANGE events, less
 * those the checks already show (the same state within a minute).
 */
function stateTimeline(checks: DriftCheck[], events: DriftEvent[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  let previous: string | null = null;
  for (const check of checks) {
    if (check.inputState !== previous) {
      entries.push({
        key: `check-${check.time}`,
        time: check.time,
        state: check.inputState,
        previousState: previous,
        predictionState: check.predictionState,
        reason: null,
        source: 'check',
      });
      previous = check.inputState;
    }
  }
  for (const event of events) {
    if (event.kind !== 'STATE_CHANGE') continue;
    const shown = entries.some(
      (entry) =>
        entry.source === 'check' &&
        entry.state === event.state &&
        Math.abs(entry.time - event.eventTime) < 60_000,
    );
    if (shown) continue;
    entries.push({
      key: `event-${event.eventId}`,
      time: event.eventTime,
      state: event.state,
      previousState: event.previousState,
      predictionState: event.predictionDriftState,
      reason: event.reason ?? null,
      source: 'event',
    });
  }
  return entries.sort((a, b) => b.time - a.time).slice(0, TIMELINE_ITEMS);
}
