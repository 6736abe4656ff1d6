-- Model registry: one row per model version. Status and metrics can change after
-- registration (candidate -> blocked, ...): a change is a new row with a higher `revision`
-- (ms since the epoch), and ReplacingMergeTree keeps the newest; readers take the newest
-- revision at query time (argMax / LIMIT 1 BY), so they are exact before merges too.
-- JSON columns (`metrics`, `training_data`, `drift_calibration`) read with
-- visitParamExtractFloat / visitParamExtractString, which exist on 18.16 and current versions.
CREATE TABLE IF NOT EXISTS model_versions
(
    model_name String,
    version String,
    parent_version Nullable(String),
    created_time DateTime,
    artifact_uri String,
    artifact_sha256 String,
    training_data String,
    training_data_sha256 String,
    metrics String,
    reference_centroid Array(Float32),
    drift_threshold Float64,
    drift_calibration String,
    status String,
    note String,
    revision UInt64
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (model_name, version);

-- Append-only log of every registry decision: REGISTERED, PROMOTED, BLOCKED, ROLLED_BACK.
-- The production alias of a model is `production_after` of its latest PROMOTED or
-- ROLLED_BACK row, so no decision is ever overwritten. `decision_id` is deterministic for
-- decisions that may be retried (a redelivered candidate), so a retry collapses into the
-- same row (readers de-duplicate with LIMIT 1 BY decision_id).
CREATE TABLE IF NOT EXISTS promotion_log
(
    decision_id String,
    decision_time DateTime,
    decision_time_ms UInt64,
    model_name String,
    actor String,
    decision String,
    candidate_version String,
    production_before Nullable(String),
    production_after Nullable(String),
    candidate_score Nullable(Float64),
    production_score Nullable(Float64),
    reason String,
    details String
)
ENGINE = ReplacingMergeTree(decision_time_ms)
PARTITION BY toYYYYMM(decision_time)
ORDER BY (model_name, decision_id);

-- Every drift evaluation (filled by the drift service): one row per model version, segment
-- ('*' = all sources) and check. Statistics beside their calibrated thresholds, and the
-- decided states, so dashboards can plot statistic vs threshold over time.
CREATE TABLE IF NOT EXISTS drift_checks
(
    check_id String,
    check_time DateTime,
    check_time_ms UInt64,
    model_name String,
    model_version String,
    segment String,
    window_start DateTime,
    window_end DateTime,
    window_size UInt32,
    input_distance Float64,
    input_threshold Float64,
    domain_auc Nullable(Float64),
    domain_auc_threshold Nullable(Float64),
    class_mix_distance Float64,
    class_mix_threshold Float64,
    positive_share Float64,
    reference_positive_share Float64,
    input_state String,
    prediction_state String,
    error Nullable(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(check_time)
ORDER BY (model_name, model_version, segment, check_time_ms, check_id);
