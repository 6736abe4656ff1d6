/** The pages' titled cards: a table, or a timeline, under a heading that labels it. */
import type { ReactElement, ReactNode } from 'react';
import { Card, type MantineSpacing, Table, Text, Timeline, Title } from '@mantine/core';

/** A card under a small heading (`headingId`, for the content's aria-labelledby). */
export function TitledCard({
  title,
  headingId,
  headingGap,
  padding,
  testId,
  children,
}: {
  title: string;
  headingId: string;
  /** The space under the title. */
  headingGap: MantineSpacing;
  /** The card's padding (Mantine's default when unset). */
  padding?: MantineSpacing | undefined;
  testId?: string;
  children: ReactNode;
}) {
  return (
    <Card className="console-card" withBorder radius="md" padding={padding} data-testid={testId}>
      <Title order={3} size="h5" mb={headingGap} id={headingId}>
        {title}
      </Title>
      {children}
    </Card>
  );
}

export interface TableColumn {
  label: string;
  align?: 'right';
}

/**
 * A titled table (`testId`), scrolling sideways below `minWidth`. `rows` are the body's rows
 * (each with its key); without any, one row spanning every column shows `empty`.
 */
export function TableCard({
  title,
  headingId,
  testId,
  minWidth,
  columns,
  rows,
  empty,
  headingGap = 'xs',
  padding,
  verticalSpacing,
}: {
  title: string;
  headingId: string;
  testId: string;
  minWidth: number;
  columns: TableColumn[];
  rows: ReactNode[];
  empty: ReactNode;
  /** The space under the title. */
  headingGap?: MantineSpacing;
  /** The card's padding (Mantine's default when unset). */
  padding?: MantineSpacing;
  /** The cells' vertical padding (Mantine's default when unset). */
  verticalSpacing?: MantineSpacing;
}) {
  return (
    <TitledCard title={title} headingId={headingId} headingGap={headingGap} padding={padding}>
      <Table.ScrollContainer minWidth={minWidth}>
        <Table
          data-testid={testId}
          aria-labelledby={headingId}
          striped
          verticalSpacing={verticalSpacing}
        >
          <Table.Thead>
            <Table.Tr>
              {columns.map((column) => (
                <Table.Th key={column.label} ta={column.align}>
                  {column.label}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows}
            {rows.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={columns.length}>
                  <Text size="sm" c="dimmed">
                    {empty}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </TitledCard>
  );
}

/**
 * A titled timeline (`testId`) of `items`, the last one active; without any, `empty` instead.
 * Each item must be a Timeline.Item itself (not a component around one): Timeline marks its
 * direct children active. `children` stand between the title and the timeline (an alert, say).
 */
export function TimelineCard({
  title,
  headingId,
  testId,
  items,
  empty,
  children,
}: {
  title: string;
  headingId: string;
  testId: string;
  items: ReactElement[];
  empty: ReactNode;
  children?: ReactNode;
}) {
  return (
    <TitledCard title={title} headingId={headingId} headingGap="sm">
      {children}
      {items.length === 0 ? (
        <Text size="sm" c="dimmed">
          {empty}
        </Text>
      ) : (
        <Timeline
          active={items.length - 1}
          bulletSize={14}
          lineWidth={2}
          data-testid={testId}
          aria-labelledby={headingId}
        >
          {items}
        </Timeline>
      )}
    </TitledCard>
  );
}
