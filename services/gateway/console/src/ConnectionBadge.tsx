import { Badge, Group, Text } from '@mantine/core';
import type { SseState } from './sse.ts';

const COLORS: Record<SseState, string> = {
  connecting: 'gray',
  live: 'green',
  reconnecting: 'orange',
};

/** The state of a page's event stream, and why the last attempt failed. */
export function ConnectionBadge({ state, error }: { state: SseState; error: string | null }) {
  return (
    <Group gap="xs" role="status" aria-live="polite">
      <Badge
        color={COLORS[state]}
        variant={state === 'live' ? 'filled' : 'light'}
        data-testid="connection-state"
      >
        {state}
      </Badge>
      {error !== null && state !== 'live' && (
        <Text size="sm" c="dimmed" data-testid="connection-error">
          {error}
        </Text>
      )}
    </Group>
  );
}
