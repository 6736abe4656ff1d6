/**
 * The Models page's live trial: while a candidate is in SHADOW or CANARY, a card with its role,
 * the live evidence and the verdict of the promoter's gate (GET /v1/console/models/live, the
 * promoter's own assessment); otherwise one line saying production serves alone.
 */
import type { ReactNode } from 'react';
import { Alert, Badge, Group, Progress, Stack, Table, Text } from '@mantine/core';
import { TitledCard } from '../cards.tsx';
import {
  formatClock,
  formatDateTime,
  formatDuration,
  formatFixed,
  formatInteger,
  formatPercent,
  formatSigned,
} from '../format.ts';
import { ROLE_COLOR, VERDICT_COLOR, VERDICT_MEANING } from '../registry-colors.ts';
import type { LiveAssessment, LiveCandidate, LiveTrialResponse } from '../types.ts';

export function LiveTrial({
  data,
  error,
  refreshSeconds,
}: {
  data: LiveTrialResponse | null;
  error: string | null;
  refreshSeconds: number;
}) {
  if (data === null) {
    return error === null ? null : (
      <Alert color="red" title="The live trial could not be loaded" data-testid="live-error">
        {error}
      </Alert>
    );
  }
  const stale =
    error === null ? null : (
      <Alert color="orange" title="Refresh failed" data-testid="live-error" p="xs">
        {error}. Showing the assessment of {formatClock(data.time)}.
      </Alert>
    );
  if (data.candidate === null) {
    return (
      <Stack gap="xs">
        <Text size="sm" data-testid="live-none">
          {data.production === null ? (
            'No production version: nothing serves yet.'
          ) : (
            <>
              Production <strong>{data.production}</strong> serves alone: no candidate in shadow or
              canary.
            </>
          )}
        </Text>
        {stale}
      </Stack>
    );
  }
  const { candidate, assessment } = data;
  return (
    <TitledCard
      title="Live trial"
      headingId="live-trial-heading"
      headingGap="xs"
      testId="live-trial"
    >
      <Stack gap="sm">
        <CandidateLine candidate={candidate} production={data.production} time={data.time} />
        {assessment === null ? (
          <Text size="sm" c="dimmed">
            Not assessed: there is no production version to compare it with.
          </Text>
        ) : (
          <Assessment assessment={assessment} />
        )}
        <Text size="xs" c="dimmed" data-testid="live-updated">
          Assessed at {formatClock(data.time)} by the promoter&apos;s gate on the predictions table,
          under this gateway&apos;s gate settings; refreshed every {refreshSeconds} s.
        </Text>
        {stale}
      </Stack>
    </TitledCard>
  );
}

function CandidateLine({
  candidate,
  production,
  time,
}: {
  candidate: LiveCandidate;
  production: string | null;
  time: number;
}) {
  return (
    <Stack gap={2}>
      <Group gap={6} wrap="wrap">
        <Text size="sm">
          Candidate <strong data-testid="live-candidate">{candidate.version}</strong> in
        </Text>
        <Badge color={ROLE_COLOR[candidate.role]} variant="filled" data-testid="live-role">
          {candidate.role}
        </Badge>
        <Text size="sm">
          {candidate.role === 'CANARY' ? (
            <>
              answering{' '}
              <strong data-testid="live-share">{formatPercent(candidate.trafficShare, 1)}</strong>{' '}
              of traffic beside production <strong>{production ?? 'none'}</strong>
            </>
          ) : (
            <>
              scoring every request beside production <strong>{production ?? 'none'}</strong>, its
              answers not served
            </>
          )}
        </Text>
      </Group>
      <Text size="sm" c="dimmed" data-testid="live-since">
        Since {formatDateTime(candidate.since)} ({formatDuration(time - candidate.since)})
      </Text>
    </Stack>
  );
}

function Assessment({ assessment }: { assessment: LiveAssessment }) {
  const { verdict, evidence, gate } = assessment;
  const floor = -gate.margin;
  const shadow = assessment.role === 'SHADOW';
  return (
    <Stack gap="sm">
      {/* Only the verdict is announced when it changes, not every refreshed figure. */}
      <Group gap={6} wrap="wrap" role="status" aria-live="polite" aria-atomic="true">
        <Text size="sm" fw={600}>
          Verdict
        </Text>
        <Badge color={VERDICT_COLOR[verdict.kind]} variant="filled" data-testid="live-verdict">
          {verdict.kind}
        </Badge>
        {assessment.expired && (
          <Badge color="red" variant="light" data-testid="live-expired">
            deadline passed
          </Badge>
        )}
        <Text size="sm" c="dimmed">
          {VERDICT_MEANING[verdict.kind]}
        </Text>
      </Group>
      <Text size="sm" fs="italic" data-testid="live-reason" style={{ overflowWrap: 'anywhere' }}>
        “{verdict.reason}”
      </Text>
      <Table.ScrollContainer minWidth={420}>
        <Table data-testid="live-evidence" verticalSpacing={6} captionSide="top">
          <Table.Caption ta="left">
            Live evidence (deadline {formatDateTime(assessment.deadline)}, after{' '}
            {formatDuration(gate.maxWaitMs)})
          </Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Figure</Table.Th>
              <Table.Th ta="right">Value</Table.Th>
              <Table.Th>Gate</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shadow ? (
              <>
                <Row
                  testId="live-shadow-events"
                  figure="Shadow events"
                  value={formatInteger(evidence.shadowEvents ?? 0)}
                  gate={
                    <CountGate
                      count={evidence.shadowEvents ?? 0}
                      needed={gate.minShadowEvents ?? 0}
                    />
                  }
                />
                <Row
                  testId="live-labelled-events"
                  figure="Labelled events"
                  value={formatInteger(evidence.labelledEvents)}
                  gate={
                    <CountGate
                      count={evidence.labelledEvents}
                      needed={gate.minLabelledEvents}
                      after={
                        gate.maxLabelledEvents === null
                          ? undefined
                          : `; inconclusive at ${formatInteger(gate.maxLabelledEvents)}: blocked`
                      }
                    />
                  }
                />
                <Row
                  testId="live-agreement"
                  figure="Agreement"
                  value={evidence.agreement === null ? '—' : formatPercent(evidence.agreement, 1)}
                  gate={<Dim>same label as production, over all shadow events</Dim>}
                />
              </>
            ) : (
              <>
                <Row
                  testId="live-labelled-events"
                  figure="Canary labelled"
                  value={formatInteger(evidence.labelledEvents)}
                  gate={
                    <CountGate count={evidence.labelledEvents} needed={gate.minLabelledEvents} />
                  }
                />
                <Row
                  testId="live-production-labelled"
                  figure="Production labelled"
                  value={formatInteger(evidence.productionLabelled ?? 0)}
                  gate={<Dim>on its own share of the traffic</Dim>}
                />
              </>
            )}
            <Row
              testId="live-production-f1"
              figure="Production F1"
              value={f1(evidence.productionF1)}
              gate={
                <Dim>{shadow ? 'on the labelled shadow events' : 'on its labelled traffic'}</Dim>
              }
            />
            <Row
              testId="live-candidate-f1"
              figure={shadow ? 'Candidate F1' : 'Canary F1'}
              value={f1(evidence.candidateF1)}
              gate={<Dim>{shadow ? 'on the same events' : 'on its labelled traffic'}</Dim>}
            />
            <Row
              testId="live-f1-difference"
              figure="F1 difference"
              value={evidence.f1Difference === null ? '—' : formatSigned(evidence.f1Difference)}
              gate={
                evidence.f1Difference === null || evidence.f1DifferenceInterval === null ? (
                  <Dim>not comparable yet; limit {formatSigned(floor)}</Dim>
                ) : (
                  <IntervalText
                    interval={evidence.f1DifferenceInterval}
                    confidence={gate.confidence}
                    floor={floor}
                  />
                )
              }
            />
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {evidence.f1Difference !== null && evidence.f1DifferenceInterval !== null && (
        <IntervalChart
          difference={evidence.f1Difference}
          interval={evidence.f1DifferenceInterval}
          floor={floor}
          confidence={gate.confidence}
        />
      )}
    </Stack>
  );
}

const f1 = (value: number | null) => (value === null ? '—' : formatFixed(value));

function Dim({ children }: { children: ReactNode }) {
  return (
    <Text size="xs" c="dimmed">
      {children}
    </Text>
  );
}

function Row({
  testId,
  figure,
  value,
  gate,
}: {
  testId: string;
  figure: string;
  value: string;
  gate: ReactNode;
}) {
  return (
    <Table.Tr data-testid={testId}>
      <Table.Th scope="row" fw={500} style={{ whiteSpace: 'nowrap' }}>
        {figure}
      </Table.Th>
      <Table.Td ta="right" style={{ whiteSpace: 'nowrap', fontVariantNumeric: 'tabular-nums' }}>
        {value}
      </Table.Td>
      <Table.Td>{gate}</Table.Td>
    </Table.Tr>
  );
}

/** How far a count is from its minimum: text, and a bar for the eye (the text says it all). */
function CountGate({ count, needed, after }: { count: number; needed: number; after?: string }) {
  const enough = count >= needed;
  return (
    <Stack gap={4}>
      <Text size="xs">
        {needed <= 0
          ? 'no minimum'
          : enough
            ? `enough: at least ${formatInteger(needed)} needed`
            : `${formatInteger(needed - count)} more of ${formatInteger(needed)} needed`}
        {after}
      </Text>
      {needed > 0 && (
        <Progress
          value={Math.min(100, (count / needed) * 100)}
          color={enough ? 'green' : 'blue'}
          size="xs"
          maw={220}
          aria-hidden
        />
      )}
    </Stack>
  );
}

/** Where the interval lies against the limit −margin: what the gate makes of it. */
function placement(interval: [number, number], floor: number): 'above' | 'below' | 'across' {
  if (interval[0] >= floor) return 'above';
  if (interval[1] < floor) return 'below';
  return 'across';
}

function placementText(interval: [number, number], floor: number): string {
  const limit = `the limit ${formatSigned(floor)}`;
  switch (placement(interval, floor)) {
    case 'above':
      return `stays at or above ${limit}`;
    case 'below':
      return `lies wholly below ${limit}`;
    case 'across':
      return `reaches below ${limit}: inconclusive`;
  }
}

function IntervalText({
  interval,
  confidence,
  floor,
}: {
  interval: [number, number];
  confidence: number;
  floor: number;
}) {
  return (
    <Text size="xs" data-testid="live-interval">
      {formatPercent(confidence, 0)} interval [{formatSigned(interval[0])},{' '}
      {formatSigned(interval[1])}] {placementText(interval, floor)} (margin {formatFixed(-floor)})
    </Text>
  );
}

const PLACEMENT_COLOR = { above: 'green', below: 'red', across: 'yellow' } as const;

/** The difference's interval on a line with 0 and the limit −margin marked. */
function IntervalChart({
  difference,
  interval,
  floor,
  confidence,
}: {
  difference: number;
  interval: [number, number];
  floor: number;
  confidence: number;
}) {
  const [lower, upper] = interval;
  const values = [lower, upper, difference, floor, 0];
  const pad = Math.max((Math.max(...values) - Math.min(...values)) * 0.12, 0.005);
  const min = Math.min(...values) - pad;
  const max = Math.max(...values) + pad;
  const width = 400;
  const height = 60;
  const x = (value: number) => 10 + ((value - min) / (max - min)) * (width - 20);
  const color = `var(--mantine-color-${PLACEMENT_COLOR[placement(interval, floor)]}-6)`;
  const label =
    `${formatPercent(confidence, 0)} interval of the F1 difference from ${formatSigned(lower)} ` +
    `to ${formatSigned(upper)}, estimate ${formatSigned(difference)}; limit ${formatSigned(floor)}`;
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      height={height}
      role="img"
      aria-label={label}
      data-testid="live-interval-chart"
      style={{ display: 'block', maxWidth: 520 }}
    >
      <line x1={x(0)} x2={x(0)} y1={14} y2={44} stroke="var(--mantine-color-gray-5)" />
      <text x={x(0)} y={57} textAnchor="middle" fontSize={11} fill="var(--mantine-color-dimmed)">
        0
      </text>
      <line
        x1={x(floor)}
        x2={x(floor)}
        y1={14}
        y2={44}
        stroke="var(--mantine-color-red-6)"
        strokeDasharray="4 3"
        strokeWidth={1.5}
      />
      <text x={x(floor)} y={10} textAnchor="middle" fontSize={11} fill="var(--mantine-color-red-7)">
        limit {formatSigned(floor)}
      </text>
      <line
        x1={x(lower)}
        x2={Math.max(x(upper), x(lower) + 1)}
        y1={29}
        y2={29}
        stroke={color}
        strokeWidth={8}
        strokeLinecap="round"
      />
      <circle
        cx={x(difference)}
        cy={29}
        r={5}
        fill="var(--mantine-color-body)"
        stroke="var(--mantine-color-text)"
        strokeWidth={2}
      />
    </svg>
  );
}
