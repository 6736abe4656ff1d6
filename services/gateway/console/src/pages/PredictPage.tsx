import {
  type ComponentProps,
  type FormEvent,
  type ReactNode,
  useMemo,
  useRef,
  useState,
} from 'react';
import {
  Alert,
  Badge,
  Button,
  Card,
  FileInput,
  Group,
  Pagination,
  Progress,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { api, isAbort, messageOf } from '../api.ts';
import { ChartFrame, CountBarChart } from '../ChartFrame.tsx';
import {
  CsvError,
  MAX_ROWS,
  type ParsedCsv,
  type ScoredRow,
  parseCsvFile,
  predictionsCsv,
  textsOf,
} from '../csv.ts';
import { formatInteger, formatNumber, formatPercent } from '../format.ts';
import { CHUNK_SIZE, scoreTexts } from '../scoring.ts';
import type { Label, PredictResponse } from '../types.ts';

export function PredictPage() {
  return (
    <Stack gap="xl">
      <Title order={2}>Predict</Title>
      <SinglePredict />
      <CsvScoring />
    </Stack>
  );
}

/** A card that is a section of the page, labelled by its title. */
function SectionCard({
  title,
  headingId,
  children,
}: {
  title: string;
  headingId: string;
  children: ReactNode;
}) {
  return (
    <Card
      className="console-card"
      withBorder
      radius="md"
      component="section"
      aria-labelledby={headingId}
    >
      <Title order={3} size="h4" id={headingId} mb="sm">
        {title}
      </Title>
      {children}
    </Card>
  );
}

const LABELS: Label[] = ['NEGATIVE', 'POSITIVE'];
const LABEL_COLOR: Record<Label, string> = { NEGATIVE: 'red', POSITIVE: 'teal' };
const LABEL_NAME: Record<Label, string> = { NEGATIVE: 'Negative', POSITIVE: 'Positive' };

function SinglePredict() {
  const [text, setText] = useState('');
  const [answer, setAnswer] = useState<PredictResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (text.trim() === '' || busy) return;
    setBusy(true);
    setError(null);
    try {
      setAnswer(await api.predict([text]));
    } catch (caught) {
      setAnswer(null);
      setError(messageOf(caught));
    } finally {
      setBusy(false);
    }
  }

  const result = answer?.results[0];
  return (
    <SectionCard title="One text" headingId="single-heading">
      <form onSubmit={(event) => void submit(event)}>
        <Stack gap="sm">
          <Textarea
            label="Review text"
            description="Ctrl+Enter scores it too."
            autosize
            minRows={3}
            maxRows={12}
            value={text}
            onChange={(event) => setText(event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void submit();
            }}
            data-testid="single-text"
          />
          <Group>
            <Button
              type="submit"
              loading={busy}
              disabled={text.trim() === ''}
              data-testid="predict"
            >
              Predict
            </Button>
          </Group>
        </Stack>
      </form>
      {error !== null && (
        <Alert color="red" title="Prediction failed" mt="md" data-testid="single-error">
          {error}
        </Alert>
      )}
      {answer !== null && result !== undefined && (
        <Stack gap="sm" mt="md" aria-live="polite" data-testid="single-result">
          <Group gap="sm" align="center">
            <Badge size="xl" color={LABEL_COLOR[result.label]} data-testid="single-label">
              {result.label}
            </Badge>
            <Text size="sm">
              confidence{' '}
              <strong data-testid="single-confidence">{formatPercent(result.confidence)}</strong>
            </Text>
          </Group>
          <Progress.Root
            size={24}
            data-testid="single-probability"
            role="group"
            aria-label="Class probabilities"
          >
            {LABELS.map((label) => (
              <Progress.Section
                key={label}
                value={result.probabilities[label] * 100}
                color={LABEL_COLOR[label]}
                aria-label={`${LABEL_NAME[label]} probability ${formatPercent(result.probabilities[label])}`}
              >
                <Progress.Label>
                  {label} {formatPercent(result.probabilities[label], 0)}
                </Progress.Label>
              </Progress.Section>
            ))}
          </Progress.Root>
          <Text size="sm" c="dimmed">
            P(negative) {formatNumber(result.probabilities.NEGATIVE, 4)} · P(positive){' '}
            {formatNumber(result.probabilities.POSITIVE, 4)} · latency{' '}
            <span data-testid="single-latency">{formatNumber(answer.latency_ms, 1)} ms</span> ·
            model {answer.model.name}{' '}
            <span data-testid="single-model-version">{answer.model.version}</span>
          </Text>
          {result.truncated && (
            <Alert
              color="yellow"
              title="Text truncated"
              role="status"
              data-testid="single-truncated"
            >
              The text is longer than the model reads: only its beginning was scored.
            </Alert>
          )}
        </Stack>
      )}
    </SectionCard>
  );
}

type SortKey = 'row' | 'text' | 'label' | 'confidence';
const PAGE_SIZE = 50;
const SORT_COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'row', label: 'Row' },
  { key: 'text', label: 'Text' },
  { key: 'label', label: 'Label' },
  { key: 'confidence', label: 'Confidence' },
];

function compareRows(key: SortKey): (a: ScoredRow, b: ScoredRow) => number {
  switch (key) {
    case 'row':
      return (a, b) => a.row - b.row;
    case 'text':
      return (a, b) => a.text.localeCompare(b.text) || a.row - b.row;
    case 'label':
      return (a, b) => a.label.localeCompare(b.label) || a.row - b.row;
    case 'confidence':
      return (a, b) => a.confidence - b.confidence || a.row - b.row;
  }
}

interface Run {
  done: number;
  total: number;
  notice: string | null;
}

function CsvScoring() {
  const [file, setFile] = useState<File | null>(null);
  const [csv, setCsv] = useState<ParsedCsv | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [column, setColumn] = useState<string | null>(null);
  const [run, setRun] = useState<Run | null>(null);
  const [scoreError, setScoreError] = useState<string | null>(null);
  const [results, setResults] = useState<ScoredRow[] | null>(null);
  const [running, setRunning] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const fileToken = useRef(0);

  const columnCheck = useMemo((): { texts: string[] } | { error: string } | null => {
    if (csv === null || column === null) return null;
    try {
      return { texts: textsOf(csv, column) };
    } catch (error) {
      return { error: messageOf(error) };
    }
  }, [csv, column]);

  async function chooseFile(chosen: File | null) {
    controller.current?.abort();
    controller.current = null;
    setRunning(false);
    const token = ++fileToken.current;
    setFile(chosen);
    setCsv(null);
    setColumn(null);
    setFileError(null);
    setScoreError(null);
    setResults(null);
    setRun(null);
    if (chosen === null) return;
    try {
      const parsed = await parseCsvFile(chosen);
      if (token !== fileToken.current) return;
      setCsv(parsed);
      setColumn(parsed.defaultColumn);
    } catch (error) {
      if (token !== fileToken.current) return;
      setFileError(
        error instanceof CsvError ? error.message : `could not read the file: ${messageOf(error)}`,
      );
    }
  }

  async function score() {
    if (columnCheck === null || 'error' in columnCheck) return;
    const texts = columnCheck.texts;
    const current = new AbortController();
    controller.current = current;
    setScoreError(null);
    setResults(null);
    setRun({ done: 0, total: texts.length, notice: null });
    setRunning(true);
    const stale = () => controller.current !== current;
    try {
      const scored = await scoreTexts(texts, {
        signal: current.signal,
        onProgress: (done, total) => {
          if (!stale()) setRun({ done, total, notice: null });
        },
        onRetry: (status, waitMs, message) => {
          if (stale()) return;
          const notice = `The gateway is busy (${status}: ${message}); retrying in ${Math.ceil(waitMs / 1000)} s.`;
          setRun((previous) => previous && { ...previous, notice });
        },
      });
      if (!stale()) setResults(scored);
    } catch (error) {
      if (!stale()) setScoreError(isAbort(error) ? 'Scoring cancelled.' : messageOf(error));
    } finally {
      if (!stale()) {
        controller.current = null;
        setRunning(false);
        setRun((previous) => previous && { ...previous, notice: null });
      }
    }
  }

  const error =
    fileError ?? (columnCheck !== null && 'error' in columnCheck ? columnCheck.error : null);
  const canScore = columnCheck !== null && 'texts' in columnCheck && !running;

  return (
    <SectionCard title="Batch scoring" headingId="csv-heading">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          A header row is required; up to {formatInteger(MAX_ROWS)} rows. Texts are sent{' '}
          {CHUNK_SIZE} at a time.
        </Text>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <FileInput
            label="CSV file"
            placeholder="Choose a .csv file"
            accept=".csv,text/csv"
            clearable
            value={file}
            onChange={(chosen) => void chooseFile(chosen)}
            disabled={running}
            data-testid="csv-file"
            fileInputProps={{ 'data-testid': 'csv-file-input' } as ComponentProps<'input'>}
          />
          <Select
            label="Text column"
            placeholder={csv === null ? 'Choose a file first' : 'Choose the column to score'}
            data={csv?.fields ?? []}
            value={column}
            onChange={(value) => {
              setColumn(value);
              setResults(null);
              setScoreError(null);
            }}
            disabled={csv === null || running}
            allowDeselect={false}
            comboboxProps={{ keepMounted: false }}
            data-testid="csv-column"
          />
        </SimpleGrid>
        {csv !== null && (
          <Text size="sm" data-testid="csv-summary">
            {formatInteger(csv.rows.length)} rows; columns: {csv.fields.join(', ')}
          </Text>
        )}
        {error !== null && (
          <Alert color="red" title="This file cannot be scored" data-testid="csv-error">
            {error}
          </Alert>
        )}
        <Group>
          <Button
            onClick={() => void score()}
            disabled={!canScore}
            loading={running}
            data-testid="csv-score"
          >
            Score
          </Button>
          {running && (
            <Button
              variant="default"
              onClick={() => controller.current?.abort()}
              data-testid="csv-cancel"
            >
              Cancel
            </Button>
          )}
        </Group>
        {run !== null && (
          <Stack gap={4} data-testid="csv-progress">
            <Group justify="space-between">
              <Text size="sm">{running ? 'Scoring…' : 'Scored'}</Text>
              <Text size="sm" data-testid="csv-progress-count">
                {run.done} / {run.total}
              </Text>
            </Group>
            <Progress
              value={run.total === 0 ? 0 : (run.done / run.total) * 100}
              aria-label={`Scored ${run.done} of ${run.total} rows`}
              animated={running}
            />
            {run.notice !== null && (
              <Text size="sm" c="orange" role="status">
                {run.notice}
              </Text>
            )}
          </Stack>
        )}
        {scoreError !== null && (
          <Alert color="red" title="Scoring stopped" data-testid="csv-score-error">
            {scoreError} No results were kept.
          </Alert>
        )}
        {results !== null && <CsvResults rows={results} />}
      </Stack>
    </SectionCard>
  );
}

function download(name: string, content: string, type: string) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function CsvResults({ rows }: { rows: ScoredRow[] }) {
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({
    key: 'row',
    descending: false,
  });
  const [page, setPage] = useState(1);

  const sorted = useMemo(() => {
    const compare = compareRows(sort.key);
    const copy = [...rows].sort(compare);
    return sort.descending ? copy.reverse() : copy;
  }, [rows, sort]);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const shown = sorted.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);

  const labelCounts = useMemo(() => {
    const counts = { NEGATIVE: 0, POSITIVE: 0 };
    for (const row of rows) counts[row.label] += 1;
    return [
      { name: 'NEGATIVE', count: counts.NEGATIVE },
      { name: 'POSITIVE', count: counts.POSITIVE },
    ];
  }, [rows]);
  const histogram = useMemo(() => {
    const bins = Array.from({ length: 10 }, (_, index) => ({
      name: `${(0.5 + index * 0.05).toFixed(2)}–${(0.55 + index * 0.05).toFixed(2)}`,
      count: 0,
    }));
    for (const row of rows) {
      const index = Math.min(9, Math.max(0, Math.floor((row.confidence - 0.5) / 0.05)));
      bins[index]!.count += 1;
    }
    return bins;
  }, [rows]);
  const truncated = rows.filter((row) => row.truncated).length;
  const versions = [...new Set(rows.map((row) => row.modelVersion))];
  const busiest = histogram.reduce((best, bin) => (bin.count > best.count ? bin : best));
  const meanConfidence = rows.reduce((sum, row) => sum + row.confidence, 0) / rows.length;

  function sortBy(key: SortKey) {
    setSort((previous) => ({
      key,
      descending: previous.key === key ? !previous.descending : false,
    }));
    setPage(1);
  }

  return (
    <Stack gap="md" data-testid="csv-results-section">
      <Group justify="space-between">
        <Text size="sm" data-testid="csv-results-summary">
          {formatInteger(rows.length)} rows scored by model {versions.join(', ')}
          {truncated > 0 && `; ${formatInteger(truncated)} texts truncated`}.
        </Text>
        <Button
          variant="light"
          onClick={() =>
            download('predictions.csv', predictionsCsv(rows), 'text/csv;charset=utf-8')
          }
          data-testid="csv-download"
        >
          Download CSV
        </Button>
      </Group>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <ChartFrame
          testId="chart-labels"
          title="Label distribution"
          summary={`${formatInteger(labelCounts[0]!.count)} NEGATIVE (${formatPercent(labelCounts[0]!.count / rows.length)}), ${formatInteger(labelCounts[1]!.count)} POSITIVE (${formatPercent(labelCounts[1]!.count / rows.length)}).`}
        >
          <CountBarChart
            data={labelCounts}
            title="Label distribution"
            desc="Rows per predicted label"
            xLabel="Label"
            colorByName
          />
        </ChartFrame>
        <ChartFrame
          testId="chart-confidence"
          title="Confidence histogram"
          summary={`Mean confidence ${formatPercent(meanConfidence)}; most rows (${formatInteger(busiest.count)}) fall in ${busiest.name}.`}
        >
          <CountBarChart
            data={histogram}
            title="Confidence histogram"
            desc="Rows per confidence bin of width 0.05 from 0.5 to 1.0"
            xLabel="Confidence"
          />
        </ChartFrame>
      </SimpleGrid>
      <Table.ScrollContainer minWidth={0}>
        <Table
          striped
          highlightOnHover
          horizontalSpacing={8}
          fz="sm"
          data-testid="csv-results"
          aria-label="Predictions"
        >
          <Table.Thead>
            <Table.Tr>
              {SORT_COLUMNS.map((column) => {
                const active = sort.key === column.key;
                return (
                  <Table.Th
                    key={column.key}
                    w={column.key === 'text' ? '100%' : undefined}
                    aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}
                  >
                    <UnstyledButton
                      className="sort-button"
                      onClick={() => sortBy(column.key)}
                      data-testid={`sort-${column.key}`}
                    >
                      {column.label}
                      <span aria-hidden="true">{active ? (sort.descending ? '▼' : '▲') : '↕'}</span>
                    </UnstyledButton>
                  </Table.Th>
                );
              })}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((row) => (
              <Table.Tr key={row.row} data-testid="csv-row" data-row={row.row}>
                <Table.Td>{row.row}</Table.Td>
                <Table.Td className="cell-text">
                  <Text size="sm" lineClamp={3} title={row.text}>
                    {row.text}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    <Badge color={LABEL_COLOR[row.label]} variant="light" size="sm">
                      {row.label}
                    </Badge>
                    {row.truncated && (
                      <Badge
                        color="yellow"
                        variant="outline"
                        size="sm"
                        title="The text was truncated"
                      >
                        truncated
                      </Badge>
                    )}
                  </Group>
                </Table.Td>
                <Table.Td>{formatNumber(row.confidence, 4)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          Rows {formatInteger((page - 1) * PAGE_SIZE + 1)}–
          {formatInteger(Math.min(page * PAGE_SIZE, rows.length))} of {formatInteger(rows.length)}
        </Text>
        <Pagination
          total={pages}
          value={page}
          onChange={setPage}
          size="sm"
          aria-label="Result pages"
          data-testid="csv-pagination"
          getControlProps={(control) => ({ 'aria-label': `${control} page` })}
        />
      </Group>
    </Stack>
  );
}
