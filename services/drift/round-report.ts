/**
 * What the drift service reports of each round besides drift.events and drift_checks:
 * Prometheus metrics (rounds run, leadership, the latest value of each statistic per segment)
 * and one log line with the global window's states.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '#platform/common';
import { GLOBAL_SEGMENT, type RoundResult } from './detector.ts';

export interface RoundReporter {
  readonly round: (result: RoundResult) => void;
  readonly leadership: (leader: boolean) => void;
}

export function createRoundReporter(registry: Registry, logger: Logger): RoundReporter {
  const registers = [registry];
  const rounds = new Counter({
    name: 'drift_rounds_total',
    help: 'Evaluation rounds run by this instance',
    registers,
  });
  const leaderGauge = new Gauge({
    name: 'drift_leader',
    help: '1 while this instance is the single writer for its model',
    registers,
  });
  const statisticGauge = new Gauge({
    name: 'drift_statistic',
    help: 'Latest value of each drift statistic (and its threshold) per segment',
    labelNames: ['segment', 'statistic', 'kind'],
    registers,
  });
  return {
    leadership: (leader) => leaderGauge.set(leader ? 1 : 0),
    round: (result) => {
      rounds.inc();
      for (const { segment, evaluation } of result.segments) {
        if (!evaluation) continue;
        const values = {
          class_mix: evaluation.classMix,
          cosine: evaluation.cosine,
          domain_auc: evaluation.domainAuc,
        };
        for (const [statistic, value] of Object.entries(values)) {
          if (value !== null) statisticGauge.set({ segment, statistic, kind: 'value' }, value);
        }
      }
      const global = result.segments.find((segment) => segment.segment === GLOBAL_SEGMENT);
      logger.info(
        {
          version: result.version,
          state: global?.inputState,
          predictionState: global?.predictionState,
          rows: global?.rows,
          segments: result.segments.length,
          events: result.events.length,
        },
        'drift round',
      );
    },
  };
}
