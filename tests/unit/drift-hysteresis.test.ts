import { describe, expect, it } from 'vitest';
import {
  type DriftObservation,
  type DriftState,
  type DriftTransition,
  type HysteresisConfig,
  initialDriftState,
  reduceDriftState,
  validateHysteresisConfig,
} from '#domain/drift';

const config: HysteresisConfig = { minWindowRows: 100, driftAfter: 2, recoverAfter: 3 };
const win = (over: boolean, rows = 500): DriftObservation => ({ kind: 'window', rows, over });

function run(observations: DriftObservation[], start: DriftState = initialDriftState('1')) {
  let state = start;
  const states: string[] = [];
  const transitions: DriftTransition[] = [];
  for (const observation of observations) {
    const step = reduceDriftState(state, observation, config);
    state = step.state;
    states.push(state.state);
    if (step.transition) transitions.push(step.transition);
  }
  return { state, states, transitions };
}

describe('drift hysteresis', () => {
  it('warms up until a full window, then needs k consecutive windows over threshold', () => {
    const { states, transitions } = run([
      win(false, 10),
      win(true, 99),
      win(true),
      win(false),
      win(true),
      win(true),
    ]);
    expect(states).toEqual(['WARMING_UP', 'WARMING_UP', 'OK', 'OK', 'OK', 'DRIFT']);
    expect(transitions.map((t) => t.reason)).toEqual(['WARMED_UP', 'DRIFT_DETECTED']);
  });

  it('recovers only after m consecutive windows under threshold', () => {
    const { states, transitions } = run([
      win(true),
      win(true),
      win(false),
      win(false),
      win(true),
      win(false),
      win(false),
      win(false),
    ]);
    expect(states).toEqual(['OK', 'DRIFT', 'DRIFT', 'DRIFT', 'DRIFT', 'DRIFT', 'DRIFT', 'OK']);
    expect(transitions.at(-1)).toEqual({ from: 'DRIFT', to: 'OK', reason: 'RECOVERED' });
  });

  it('ignores short windows after warm-up (no evidence either way)', () => {
    const { states, state } = run([win(true), win(true, 5), win(true)]);
    expect(states).toEqual(['OK', 'OK', 'DRIFT']);
    expect(state.windows).toBe(2);
  });

  it('goes to ERROR and resumes where it was, counters kept', () => {
    const { states, transitions } = run([
      win(true),
      win(true),
      { kind: 'error', message: 'ClickHouse down' },
      { kind: 'error', message: 'still down' },
      win(false),
      win(false),
      win(false),
    ]);
    expect(states).toEqual(['OK', 'DRIFT', 'ERROR', 'ERROR', 'DRIFT', 'DRIFT', 'OK']);
    expect(transitions.map((t) => t.reason)).toEqual([
      'WARMED_UP',
      'DRIFT_DETECTED',
      'ERROR',
      'ERROR_CLEARED',
      'RECOVERED',
    ]);
    expect(transitions[2]).toMatchObject({
      from: 'DRIFT',
      to: 'ERROR',
      message: 'ClickHouse down',
    });
  });

  it('resets to WARMING_UP when a new model version becomes production', () => {
    const { state, transitions } = run([
      win(true),
      win(true),
      { kind: 'model', version: '1' },
      { kind: 'model', version: '2' },
    ]);
    expect(state).toEqual(initialDriftState('2'));
    expect(transitions.at(-1)).toEqual({
      from: 'DRIFT',
      to: 'WARMING_UP',
      reason: 'MODEL_CHANGED',
    });
    expect(transitions.filter((t) => t.reason === 'MODEL_CHANGED')).toHaveLength(1);
  });

  it('with k = 1 a single window is enough', () => {
    const step = reduceDriftState(initialDriftState('1'), win(true), { ...config, driftAfter: 1 });
    expect(step.state.state).toBe('DRIFT');
    expect(step.transition?.reason).toBe('DRIFT_DETECTED');
  });

  it('rejects a nonsensical configuration', () => {
    expect(() => validateHysteresisConfig({ ...config, driftAfter: 0 })).toThrow(/driftAfter/);
    expect(() => validateHysteresisConfig({ ...config, recoverAfter: 1.5 })).toThrow();
    expect(() => validateHysteresisConfig(config)).not.toThrow();
  });
});
