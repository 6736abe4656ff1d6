import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  AppShell,
  Badge,
  Burger,
  Group,
  Loader,
  NavLink,
  PasswordInput,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { api, setApiKey } from './api.ts';
import { type Route, useApiKey, useHashRoute, useLoad, useSettledApiKey } from './hooks.ts';
import { DriftPage } from './pages/DriftPage.tsx';
import { ModelsPage } from './pages/ModelsPage.tsx';
import { PipelinePage } from './pages/PipelinePage.tsx';
import { PredictPage } from './pages/PredictPage.tsx';
import type { WhoAmI } from './types.ts';

const PAGES: { route: Route; label: string; description: string }[] = [
  { route: 'predict', label: 'Predict', description: 'Score a text or a CSV file' },
  { route: 'pipeline', label: 'Pipeline', description: 'Throughput, lag, readiness' },
  { route: 'drift', label: 'Drift', description: 'Drift checks and episodes' },
  { route: 'models', label: 'Models', description: 'Versions and promotions' },
];

function ApiKeyInput() {
  const key = useApiKey();
  return (
    <PasswordInput
      label="API key"
      placeholder="none: anonymous"
      autoComplete="off"
      spellCheck={false}
      value={key}
      onChange={(event) => setApiKey(event.currentTarget.value)}
      data-testid="api-key"
      styles={{
        root: { display: 'flex', alignItems: 'center', gap: 8, minWidth: 0 },
        label: { whiteSpace: 'nowrap', marginBottom: 0 },
        wrapper: { flex: 1, minWidth: 0 },
      }}
      w={{ base: '100%', sm: 320 }}
      maw={360}
    />
  );
}

function WhoAmIPanel({
  signedIn,
  whoami,
  loading,
  error,
}: {
  signedIn: boolean;
  whoami: WhoAmI | null;
  loading: boolean;
  error: string | null;
}) {
  if (!signedIn) {
    return (
      <Text size="sm" c="dimmed" data-testid="whoami">
        Anonymous: no API key set.
      </Text>
    );
  }
  if (error !== null) {
    return (
      <Alert color="red" title="Key not accepted" data-testid="whoami-error" p="xs">
        {error}
      </Alert>
    );
  }
  if (whoami === null || loading) {
    return (
      <Group gap="xs" data-testid="whoami">
        <Loader size="xs" />
        <Text size="sm">Checking the key…</Text>
      </Group>
    );
  }
  return (
    <Stack gap={4} data-testid="whoami">
      <Text size="sm">
        Signed in as <strong data-testid="whoami-name">{whoami.name}</strong>
      </Text>
      <Group gap={4} role="group" aria-label="Scopes">
        {whoami.scopes.map((scope) => (
          <Badge key={scope} size="sm" variant="light" color={scope === 'admin' ? 'grape' : 'gray'}>
            {scope}
          </Badge>
        ))}
      </Group>
    </Stack>
  );
}

export function App() {
  const route = useHashRoute();
  const key = useSettledApiKey();
  const [navOpened, setNavOpened] = useState(false);
  const main = useRef<HTMLElement>(null);
  const firstRoute = useRef(true);
  useEffect(() => {
    const page = PAGES.find((candidate) => candidate.route === route);
    document.title = `${page?.label ?? 'Console'} · Sentiment console`;
    // After navigation, keyboard and screen-reader users start at the new page's content.
    if (firstRoute.current) firstRoute.current = false;
    else main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [route]);
  const who = useLoad((signal) => (key === '' ? Promise.resolve(null) : api.whoami(signal)));
  const whoami = key === '' ? null : who.data;
  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !navOpened } }}
      padding={{ base: 'xs', sm: 'md' }}
    >
      <a
        href="#console-main"
        className="skip-link"
        onClick={(event) => {
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" gap="sm" wrap="nowrap" justify="space-between">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={navOpened}
              onClick={() => setNavOpened((opened) => !opened)}
              hiddenFrom="sm"
              size="sm"
              aria-label={navOpened ? 'Close navigation' : 'Open navigation'}
              aria-expanded={navOpened}
              aria-controls="console-navbar"
            />
            <Title order={1} size="h4" visibleFrom="xs" style={{ whiteSpace: 'nowrap' }}>
              Sentiment console
            </Title>
          </Group>
          <ApiKeyInput />
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" id="console-navbar" aria-label="Pages">
        <AppShell.Section mb="sm">
          <WhoAmIPanel
            signedIn={key !== ''}
            whoami={whoami}
            loading={who.loading}
            error={key === '' ? null : who.error}
          />
        </AppShell.Section>
        <AppShell.Section grow component="nav" aria-label="Console pages">
          {PAGES.map((page) => (
            <NavLink
              key={page.route}
              href={`#/${page.route}`}
              label={page.label}
              description={page.description}
              active={route === page.route}
              aria-current={route === page.route ? 'page' : undefined}
              onClick={() => setNavOpened(false)}
              data-testid={`nav-${page.route}`}
            />
          ))}
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main ref={main} id="console-main" tabIndex={-1} style={{ outline: 'none' }}>
        {/* Predict stays mounted so a CSV run and its results survive visits to other pages. */}
        <div hidden={route !== 'predict'}>
          <PredictPage />
        </div>
        {route === 'pipeline' && <PipelinePage />}
        {route === 'drift' && <DriftPage />}
        {route === 'models' && <ModelsPage whoami={whoami} />}
      </AppShell.Main>
    </AppShell>
  );
}
