/**
 * The drift state machine, as a pure reducer: (state, observation) -> (state, transition?).
 *
 * States:
 * - WARMING_UP: no full window yet for the current model version (fewer than minWindowRows
 *   rows), so nothing is decided;
 * - OK: windows are evaluated and drift has not been confirmed;
 * - DRIFT: `driftAfter` (k) consecutive windows were over threshold; it stays until
 *   `recoverAfter` (m) consecutive windows are under threshold (then RECOVERED -> OK);
 * - ERROR: the last evaluation failed (reference invalid, store unreachable...). The state
 *   before the error and the counters are kept, and the next good window resumes from them.
 *
 * A window with fewer than minWindowRows rows after warm-up is no evidence either way: state
 * and counters stay. A new production model version resets everything to WARMING_UP (its
 * reference and thresholds are different).
 */

export type DriftStateName = 'WARMING_UP' | 'OK' | 'DRIFT' | 'ERROR';

export interface HysteresisConfig {
  /** Rows a window needs to be evaluated. */
  readonly minWindowRows: number;
  /** k: consecutive windows over threshold before DRIFT. */
  readonly driftAfter: number;
  /** m: consecutive windows under threshold before leaving DRIFT. */
  readonly recoverAfter: number;
}

export interface DriftState {
  readonly state: DriftStateName;
  readonly modelVersion: string | null;
  /** Consecutive evaluated windows over threshold. */
  readonly over: number;
  /** Consecutive evaluated windows under threshold. */
  readonly under: number;
  /** Where an ERROR resumes to (the state before the error); null outside ERROR. */
  readonly resume: Exclude<DriftStateName, 'ERROR'> | null;
  /** Windows evaluated since the model version became current. */
  readonly windows: number;
}

export type DriftObservation =
  /** A window was evaluated: its rows and whether it was over the drift threshold. */
  | { readonly kind: 'window'; readonly rows: number; readonly over: boolean }
  /** The evaluation failed. */
  | { readonly kind: 'error'; readonly message: string }
  /** The production model version is (now) `version`. */
  | { readonly kind: 'model'; readonly version: string };

export type TransitionReason =
  'WARMED_UP' | 'DRIFT_DETECTED' | 'RECOVERED' | 'ERROR' | 'ERROR_CLEARED' | 'MODEL_CHANGED';

export interface DriftTransition {
  readonly from: DriftStateName;
  readonly to: DriftStateName;
  readonly reason: TransitionReason;
  /** The error message, for reason ERROR. */
  readonly message?: string;
}

export interface DriftStep {
  readonly state: DriftState;
  readonly transition: DriftTransition | null;
}

export function initialDriftState(modelVersion: string | null = null): DriftState {
  return { state: 'WARMING_UP', modelVersion, over: 0, under: 0, resume: null, windows: 0 };
}

/** Checks a configuration: rows >= 1, k >= 1, m >= 1, all integers. */
export function validateHysteresisConfig(config: HysteresisConfig): void {
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
    }
  }
}

function step(
  previous: DriftState,
  next: DriftState,
  reason: TransitionReason,
  message?: string,
): DriftStep {
  if (previous.state === next.state && reason !== 'MODEL_CHANGED') {
    return { state: next, transition: null };
  }
  return {
    state: next,
    transition: {
      from: previous.state,
      to: next.state,
      reason,
      ...(message === undefined ? {} : { message }),
    },
  };
}

/** Applies one observation. */
export function reduceDriftState(
  current: DriftState,
  observation: DriftObservation,
  config: HysteresisConfig,
): DriftStep {
  switch (observation.kind) {
    case 'model': {
      if (observation.version === current.modelVersion) return { state: current, transition: null };
      return step(current, initialDriftState(observation.version), 'MODEL_CHANGED');
    }
    case 'error': {
      const resume = current.state === 'ERROR' ? current.resume : current.state;
      return step(current, { ...current, state: 'ERROR', resume }, 'ERROR', observation.message);
    }
    case 'window': {
      const base: Exclude<DriftStateName, 'ERROR'> =
        current.state === 'ERROR' ? (current.resume ?? 'WARMING_UP') : current.state;
      const fromError = current.state === 'ERROR';
      if (observation.rows < config.minWindowRows) {
        // Not enough rows: no evidence; only leaves ERROR (to where it was).
        const next = { ...current, state: base, resume: null };
        return step(current, next, fromError ? 'ERROR_CLEARED' : 'WARMED_UP');
      }
      const over = observation.over ? current.over + 1 : 0;
      const under = observation.over ? 0 : current.under + 1;
      let state: Exclude<DriftStateName, 'ERROR'> = base === 'WARMING_UP' ? 'OK' : base;
      let reason: TransitionReason = fromError ? 'ERROR_CLEARED' : 'WARMED_UP';
      if (state === 'OK' && over >= config.driftAfter) {
        state = 'DRIFT';
        reason = 'DRIFT_DETECTED';
      } else if (state === 'DRIFT' && under >= config.recoverAfter) {
        state = 'OK';
        reason = 'RECOVERED';
      }
      const next: DriftState = {
        state,
        modelVersion: current.modelVersion,
        over,
        under,
        resume: null,
        windows: current.windows + 1,
      };
      return step(current, next, reason);
    }
  }
}
