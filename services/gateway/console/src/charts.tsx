/**
 * The console's charts (Recharts). This module is loaded on first use (see ChartFrame.tsx),
 * so Recharts and its d3 modules stay out of the first download.
 */
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { formatClock, formatDateTime, formatHourMinute, formatNumber } from './format.ts';

const PALETTE = ['#4263eb', '#0ca678', '#f76707', '#ae3ec9', '#1098ad', '#e03131', '#66a80f'];
const LABEL_COLORS: Record<string, string> = { NEGATIVE: '#e03131', POSITIVE: '#0ca678' };
const CHART_STYLE = { width: '100%', height: '100%' };
const MARGIN = { top: 8, right: 16, bottom: 8, left: 0 };

export interface BarDatum {
  name: string;
  count: number;
}

export function CountBarChart({
  data,
  title,
  desc,
  xLabel,
  colorByName = false,
}: {
  data: BarDatum[];
  title: string;
  desc: string;
  xLabel: string;
  colorByName?: boolean;
}) {
  return (
    <BarChart responsive style={CHART_STYLE} data={data} margin={MARGIN} title={title} desc={desc}>
      <CartesianGrid strokeDasharray="3 3" vertical={false} />
      <XAxis dataKey="name" fontSize={12} interval="preserveStartEnd" aria-label={xLabel} />
      <YAxis allowDecimals={false} fontSize={12} width={48} />
      <Tooltip />
      <Bar dataKey="count" name="rows" fill={PALETTE[0]} isAnimationActive={false}>
        {colorByName &&
          data.map((datum) => (
            <Cell key={datum.name} fill={LABEL_COLORS[datum.name] ?? PALETTE[0]} />
          ))}
      </Bar>
    </BarChart>
  );
}

/** The x axis of a chart over time: `time` (epoch milliseconds) ticked by `tickFormatter`. */
function timeAxis(tickFormatter: (time: number) => string) {
  return (
    <XAxis
      dataKey="time"
      type="number"
      scale="time"
      domain={['dataMin', 'dataMax']}
      tickFormatter={tickFormatter}
      fontSize={12}
      minTickGap={24}
    />
  );
}

/** Messages per second per topic over time: one line per topic. */
export function ThroughputChart({
  data,
  topics,
  title,
  desc,
}: {
  data: Record<string, number>[];
  topics: string[];
  title: string;
  desc: string;
}) {
  return (
    <LineChart responsive style={CHART_STYLE} data={data} margin={MARGIN} title={title} desc={desc}>
      <CartesianGrid strokeDasharray="3 3" />
      {timeAxis(formatClock)}
      <YAxis fontSize={12} width={48} tickFormatter={(value: number) => formatNumber(value, 1)} />
      <Tooltip
        labelFormatter={(value) => formatClock(Number(value))}
        formatter={(value) => formatNumber(Number(value), 1)}
      />
      <Legend />
      {topics.map((topic, index) => (
        <Line
          key={topic}
          type="monotone"
          dataKey={topic}
          name={topic}
          stroke={PALETTE[index % PALETTE.length]}
          dot={false}
          strokeWidth={2}
          isAnimationActive={false}
          connectNulls
        />
      ))}
    </LineChart>
  );
}

/** Round tick values from 0 to at least `max` (about four steps of 1, 2, 2.5 or 5 × 10^n). */
export function niceTicks(max: number): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step =
    [1, 2, 2.5, 5, 10]
      .map((factor) => factor * magnitude)
      .find((candidate) => candidate >= rough) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let index = 0; ticks.at(-1) === undefined || ticks.at(-1)! < max; index += 1) {
    ticks.push(Number((index * step).toPrecision(12)));
  }
  return ticks;
}

export interface DistanceDatum {
  time: number;
  value: number;
  threshold: number;
}

/** A drift distance over time against its threshold (dashed line and reference line). */
export function DistanceChart({
  data,
  valueName,
  title,
  desc,
}: {
  data: DistanceDatum[];
  valueName: string;
  title: string;
  desc: string;
}) {
  const latest = data.at(-1)?.threshold;
  const thresholdVaries = data.some((datum) => datum.threshold !== latest);
  const ticks = niceTicks(Math.max(...data.flatMap((datum) => [datum.value, datum.threshold])));
  return (
    <LineChart responsive style={CHART_STYLE} data={data} margin={MARGIN} title={title} desc={desc}>
      <CartesianGrid strokeDasharray="3 3" />
      {timeAxis(formatHourMinute)}
      <YAxis
        fontSize={12}
        width={48}
        domain={[0, ticks.at(-1) ?? 1]}
        ticks={ticks}
        tickFormatter={(value: number) => formatNumber(value, 3)}
      />
      <Tooltip
        labelFormatter={(value) => formatDateTime(Number(value))}
        formatter={(value) => formatNumber(Number(value), 4)}
      />
      <Legend />
      <Line
        type="monotone"
        dataKey="value"
        name={valueName}
        stroke={PALETTE[0]}
        strokeWidth={2}
        dot={data.length < 50}
        isAnimationActive={false}
      />
      {thresholdVaries && (
        <Line
          type="stepAfter"
          dataKey="threshold"
          name="threshold"
          stroke="#e03131"
          strokeDasharray="6 4"
          dot={false}
          isAnimationActive={false}
        />
      )}
      {latest !== undefined && (
        <ReferenceLine
          y={latest}
          stroke="#e03131"
          strokeDasharray="6 4"
          label={{
            value: `threshold ${formatNumber(latest, 3)}`,
            position: 'insideTopRight',
            fontSize: 12,
          }}
        />
      )}
    </LineChart>
  );
}
