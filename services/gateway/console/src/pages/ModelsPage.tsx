import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Group,
  Modal,
  Stack,
  Table,
  Text,
  Textarea,
  Timeline,
  Title,
  Tooltip,
} from '@mantine/core';
import { api, hasScope, messageOf } from '../api.ts';
import { TableCard, TimelineCard } from '../cards.tsx';
import { formatDateTime, formatNumber, formatPercent } from '../format.ts';
import { useLoad, usePolling } from '../hooks.ts';
import { ROLE_COLOR, registryColor } from '../registry-colors.ts';
import type {
  Decision,
  DecisionAnswer,
  LiveCandidate,
  ModelVersion,
  RetrainAnswer,
  WhoAmI,
} from '../types.ts';
import { LiveTrial } from './LiveTrial.tsx';

type Action = { kind: 'promote'; version: string } | { kind: 'rollback' } | { kind: 'retrain' };

const NEEDS_ADMIN = 'needs an admin key';
/** How often the live trial is assessed again while the page is open (and visible). */
const LIVE_REFRESH_MS = 5_000;

/** The page's own actions, as header buttons (each button's test id is its kind). */
const PAGE_ACTIONS: {
  kind: Exclude<Action['kind'], 'promote'>;
  label: string;
  color?: string;
  variant?: string;
}[] = [
  { kind: 'rollback', label: 'Roll back', color: 'orange' },
  { kind: 'retrain', label: 'Request retrain', variant: 'light' },
];

function actionTitle(action: Action): string {
  switch (action.kind) {
    case 'promote':
      return `Promote ${action.version} to production`;
    case 'rollback':
      return 'Roll back production';
    case 'retrain':
      return 'Request retraining';
  }
}

/** A button that only an admin may press; for others it stays focusable and says why not. */
function AdminButton({
  admin,
  onClick,
  children,
  testId,
  color,
  variant,
}: {
  admin: boolean;
  onClick: () => void;
  children: string;
  testId: string;
  color?: string;
  variant?: string;
}) {
  const button = (
    <Button
      size="xs"
      color={color}
      variant={variant ?? 'filled'}
      data-testid={testId}
      data-disabled={admin ? undefined : true}
      aria-disabled={admin ? undefined : true}
      aria-describedby={admin ? undefined : 'admin-explanation'}
      onClick={(event) => {
        if (!admin) {
          event.preventDefault();
          return;
        }
        onClick();
      }}
    >
      {children}
    </Button>
  );
  return admin ? (
    button
  ) : (
    <Tooltip label={NEEDS_ADMIN} events={{ hover: true, focus: true, touch: true }}>
      {button}
    </Tooltip>
  );
}

export function ModelsPage({ whoami }: { whoami: WhoAmI | null }) {
  const models = useLoad((signal) => api.models(signal));
  const decisions = useLoad((signal) => api.decisions(signal));
  const live = useLoad((signal) => api.live(signal));
  const admin = hasScope(whoami, 'admin');
  const [action, setAction] = useState<Action | null>(null);

  // The live trial every few seconds (a load still running is left to finish).
  usePolling(() => {
    if (!live.loading) live.reload();
  }, LIVE_REFRESH_MS);
  // When the plan changes (the promoter decided, or someone else did), versions and the log
  // change with it.
  const planKey =
    live.data === null ? null : `${live.data.production}|${live.data.candidate?.decisionId ?? ''}`;
  const seenPlan = useRef<string | null>(null);
  const { reload: reloadModels } = models;
  const { reload: reloadDecisions } = decisions;
  useEffect(() => {
    if (planKey === null) return;
    if (seenPlan.current !== null && seenPlan.current !== planKey) {
      reloadModels();
      reloadDecisions();
    }
    seenPlan.current = planKey;
  }, [planKey, reloadModels, reloadDecisions]);

  const production = models.data?.production ?? null;
  const candidate = models.data?.candidate ?? null;
  const versions = [...(models.data?.versions ?? [])].sort((a, b) => b.createdTime - a.createdTime);
  const log = [...(decisions.data?.decisions ?? [])].sort((a, b) => b.time - a.time);

  return (
    <Stack gap="lg">
      <Group justify="space-between" align="center">
        <Title order={2}>Models{models.data ? `: ${models.data.modelName}` : ''}</Title>
        <Group gap="xs">
          {PAGE_ACTIONS.map(({ kind, label, color, variant }) => (
            <AdminButton
              key={kind}
              admin={admin}
              testId={kind}
              color={color}
              variant={variant}
              onClick={() => setAction({ kind })}
            >
              {label}
            </AdminButton>
          ))}
        </Group>
      </Group>
      <Text size="sm" c="dimmed" id="admin-explanation" data-testid="admin-explanation">
        {admin
          ? 'Signed in with an admin key: promote, roll back and retrain are enabled.'
          : `Promote, roll back and retrain: ${NEEDS_ADMIN} (set one in the header).`}{' '}
        Production: <strong data-testid="production-version">{production ?? 'none'}</strong>
        {candidate !== null && (
          <>
            {'; '}
            {candidate.role === 'SHADOW' ? 'in shadow' : 'canary'}:{' '}
            <strong data-testid="candidate-version">{candidate.version}</strong>
          </>
        )}
      </Text>
      <LiveTrial data={live.data} error={live.error} refreshSeconds={LIVE_REFRESH_MS / 1000} />
      {models.error !== null && (
        <Alert color="red" title="Models could not be loaded">
          {models.error}
        </Alert>
      )}
      <TableCard
        title="Versions"
        headingId="versions-heading"
        testId="models-table"
        minWidth={820}
        padding="sm"
        verticalSpacing="xs"
        columns={[
          { label: 'Version' },
          { label: 'Status' },
          { label: 'Parent' },
          { label: 'Created' },
          { label: 'Metrics' },
          { label: 'Training data' },
          { label: 'Note' },
          { label: 'Action' },
        ]}
        rows={versions.map((version) => (
          <VersionRow
            key={version.version}
            version={version}
            production={version.version === production}
            candidate={candidate?.version === version.version ? candidate : null}
            admin={admin}
            onPromote={() => setAction({ kind: 'promote', version: version.version })}
          />
        ))}
        empty={models.loading ? 'Loading…' : 'No versions.'}
      />
      <TimelineCard
        title="Promotion log"
        headingId="decisions-heading"
        testId="decisions-timeline"
        items={log.map((decision) => decisionItem(decision))}
        empty={decisions.loading ? 'Loading…' : 'No decisions yet.'}
      >
        {decisions.error !== null && (
          <Alert color="red" title="Decisions could not be loaded" mb="sm">
            {decisions.error}
          </Alert>
        )}
      </TimelineCard>
      <ActionModal
        action={action}
        onClose={() => setAction(null)}
        onDone={() => {
          models.reload();
          decisions.reload();
          live.reload();
        }}
      />
    </Stack>
  );
}

function VersionRow({
  version,
  production,
  candidate,
  admin,
  onPromote,
}: {
  version: ModelVersion;
  production: boolean;
  /** The plan's candidate, when it is this version. */
  candidate: LiveCandidate | null;
  admin: boolean;
  onPromote: () => void;
}) {
  const metrics = Object.entries(version.metrics);
  return (
    <Table.Tr
      data-testid={`model-${version.version}`}
      data-production={production}
      data-live-role={candidate?.role}
    >
      <Table.Td>
        <Group gap={6} wrap="nowrap">
          <Text fw={600} size="sm">
            {version.version}
          </Text>
          {production && (
            <Badge color="green" variant="filled" size="sm" data-testid="production-badge">
              production
            </Badge>
          )}
          {candidate !== null && (
            <Badge
              color={ROLE_COLOR[candidate.role]}
              variant="filled"
              size="sm"
              data-testid="live-role-badge"
            >
              {candidate.role === 'CANARY'
                ? `canary ${formatPercent(candidate.trafficShare, 0)}`
                : 'shadow'}
            </Badge>
          )}
        </Group>
      </Table.Td>
      <Table.Td>
        <Badge color={registryColor(version.status)} variant="light">
          {version.status}
        </Badge>
      </Table.Td>
      <Table.Td>{version.parentVersion ?? '—'}</Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDateTime(version.createdTime)}</Table.Td>
      <Table.Td>
        {metrics.length === 0 ? (
          '—'
        ) : (
          <Stack gap={0}>
            {metrics.map(([name, value]) => (
              <Text size="xs" key={name} style={{ whiteSpace: 'nowrap' }}>
                {name}: {formatNumber(value, 4)}
              </Text>
            ))}
          </Stack>
        )}
      </Table.Td>
      <Table.Td>
        <Text size="xs" maw={220} style={{ overflowWrap: 'anywhere' }}>
          {version.trainingData || '—'}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="xs" maw={220}>
          {version.note || '—'}
        </Text>
      </Table.Td>
      <Table.Td>
        {!production && (
          <AdminButton
            admin={admin}
            testId={`promote-${version.version}`}
            variant="light"
            onClick={onPromote}
          >
            Promote
          </AdminButton>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

/** What a decision did to the serving plan, in words. */
function planChange(decision: Decision): string {
  const before = decision.productionBefore ?? 'none';
  const after = decision.productionAfter ?? 'none';
  switch (decision.decision) {
    case 'SHADOW':
      return `into shadow beside production ${before}`;
    case 'CANARY':
      return `canary at ${
        decision.trafficShare === null ? '?' : formatPercent(decision.trafficShare, 1)
      } of traffic beside production ${before}`;
    case 'ROLLED_BACK':
      return before === after
        ? `canary rolled back: production ${after} keeps all traffic`
        : `production ${before} → ${after}`;
    case 'BLOCKED':
      return decision.liveRole === null
        ? `production stays ${before}`
        : `left ${decision.liveRole.toLowerCase()}: production stays ${before}`;
    default:
      return `production ${before} → ${after}`;
  }
}

function decisionItem(decision: Decision) {
  const score = (value: number | null) => (value === null ? '—' : formatNumber(value, 4));
  return (
    <Timeline.Item
      key={decision.decisionId}
      color={registryColor(decision.decision)}
      title={`${decision.decision} ${decision.candidateVersion}`}
      data-testid="decision-item"
      data-decision={decision.decision}
    >
      {(decision.candidateScore !== null || decision.productionScore !== null) && (
        <Text size="sm">
          candidate {score(decision.candidateScore)} vs production {score(decision.productionScore)}
        </Text>
      )}
      <Text size="sm">{planChange(decision)}</Text>
      <Text size="sm" fs="italic">
        “{decision.reason}”
      </Text>
      <Text size="xs" c="dimmed">
        {decision.actor} · {formatDateTime(decision.time)}
      </Text>
    </Timeline.Item>
  );
}

type Outcome = { ok: true; text: string } | { ok: false; text: string };

function describe(answer: DecisionAnswer | RetrainAnswer): string {
  if ('requestId' in answer) return `Retraining requested (request ${answer.requestId}).`;
  const { decision } = answer;
  return `${decision.decision}: production is now ${decision.productionAfter ?? 'none'}. Reason: ${decision.reason}`;
}

function ActionModal({
  action,
  onClose,
  onDone,
}: {
  action: Action | null;
  onClose: () => void;
  onDone: () => void;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  function close() {
    if (busy) return;
    setReason('');
    setOutcome(null);
    onClose();
  }

  async function confirm() {
    if (action === null || reason.trim() === '' || busy) return;
    setBusy(true);
    setOutcome(null);
    try {
      const text = reason.trim();
      const answer =
        action.kind === 'promote'
          ? await api.promote(action.version, text)
          : action.kind === 'rollback'
            ? await api.rollback(text)
            : await api.retrain(text);
      setOutcome({ ok: true, text: describe(answer) });
    } catch (error) {
      setOutcome({ ok: false, text: messageOf(error) });
    } finally {
      setBusy(false);
      onDone();
    }
  }

  const done = outcome?.ok === true;
  return (
    <Modal
      opened={action !== null}
      onClose={close}
      title={action === null ? '' : actionTitle(action)}
      centered
    >
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void confirm();
        }}
      >
        <Stack gap="sm">
          <Textarea
            label="Reason"
            description="Recorded with the decision."
            required
            autosize
            minRows={3}
            data-autofocus
            value={reason}
            onChange={(event) => setReason(event.currentTarget.value)}
            disabled={busy || done}
            data-testid="reason-input"
          />
          {outcome !== null &&
            (outcome.ok ? (
              <Alert color="green" title="Done" role="status" data-testid="action-result">
                {outcome.text}
              </Alert>
            ) : (
              <Alert color="red" title="Refused" data-testid="action-error">
                {outcome.text}
              </Alert>
            ))}
          <Group justify="flex-end">
            <Button variant="default" onClick={close} disabled={busy}>
              {done ? 'Close' : 'Cancel'}
            </Button>
            {!done && (
              <Button
                type="submit"
                disabled={reason.trim() === ''}
                loading={busy}
                data-testid="confirm-action"
              >
                Confirm
              </Button>
            )}
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
