-- Analysts' views (docs/analysts.md). Every view reads de-duplicated data only:
-- predictions through predictions_dedup (one row per event_id), model_versions through its
-- newest revision per (model_name, version), promotion_log one row per decision_id,
-- drift_checks one row per check_id. SQL valid on ClickHouse 18.16 and current releases
-- (no toStartOfInterval, DateTime64, parametrised views or query parameters).
--
-- Cost: a view is a stored query, re-run on every read. The prediction views sit on
-- predictions_dedup (ORDER BY event_id, ingest_time LIMIT 1 BY event_id over the whole table),
-- so each read scans and sorts the needed columns of every prediction ever logged. Fine for
-- hourly rollups and ad-hoc analysis; for a short recent window query `predictions` with a
-- time filter and LIMIT 1 BY event_id (docs/analysts.md shows how).

-- Volume, label share, confidence and latency per hour, model version and source.
CREATE VIEW IF NOT EXISTS predictions_hourly AS
SELECT
    hour,
    model_name,
    model_version,
    source,
    predictions,
    positive,
    negative,
    positive / predictions AS positive_share,
    mean_confidence,
    min_confidence,
    labelled,
    truncated_count,
    mean_latency_ms
FROM
(
    SELECT
        toStartOfHour(event_time) AS hour,
        model_name,
        model_version,
        source,
        count() AS predictions,
        countIf(label = 'POSITIVE') AS positive,
        countIf(label = 'NEGATIVE') AS negative,
        avg(confidence) AS mean_confidence,
        min(confidence) AS min_confidence,
        countIf(ground_truth IS NOT NULL) AS labelled,
        countIf(truncated = 1) AS truncated_count,
        avg(latency_ms) AS mean_latency_ms
    FROM predictions_dedup
    GROUP BY hour, model_name, model_version, source
);

-- Accuracy, precision, recall and F1 (POSITIVE is the positive class) per model version,
-- over the predictions whose ground truth is known. Ratios are NULL when undefined.
CREATE VIEW IF NOT EXISTS quality_by_version AS
SELECT
    model_name,
    model_version,
    labelled,
    correct,
    tp,
    fp,
    fn,
    tn,
    correct / labelled AS accuracy,
    if(tp + fp = 0, NULL, tp / (tp + fp)) AS precision,
    if(tp + fn = 0, NULL, tp / (tp + fn)) AS recall,
    if(2 * tp + fp + fn = 0, NULL, (2 * tp) / (2 * tp + fp + fn)) AS f1,
    mean_confidence,
    first_event_time,
    last_event_time
FROM
(
    SELECT
        model_name,
        model_version,
        count() AS labelled,
        countIf(label = truth) AS correct,
        countIf(label = 'POSITIVE' AND truth = 'POSITIVE') AS tp,
        countIf(label = 'POSITIVE' AND truth = 'NEGATIVE') AS fp,
        countIf(label = 'NEGATIVE' AND truth = 'POSITIVE') AS fn,
        countIf(label = 'NEGATIVE' AND truth = 'NEGATIVE') AS tn,
        avg(confidence) AS mean_confidence,
        min(event_time) AS first_event_time,
        max(event_time) AS last_event_time
    FROM
    (
        SELECT model_name, model_version, event_time, label, confidence,
            assumeNotNull(ground_truth) AS truth
        FROM predictions_dedup
        WHERE ground_truth IS NOT NULL
    )
    GROUP BY model_name, model_version
);

-- The same per model version and day (UTC).
CREATE VIEW IF NOT EXISTS quality_daily AS
SELECT
    day,
    model_name,
    model_version,
    labelled,
    correct,
    tp,
    fp,
    fn,
    tn,
    correct / labelled AS accuracy,
    if(tp + fp = 0, NULL, tp / (tp + fp)) AS precision,
    if(tp + fn = 0, NULL, tp / (tp + fn)) AS recall,
    if(2 * tp + fp + fn = 0, NULL, (2 * tp) / (2 * tp + fp + fn)) AS f1,
    mean_confidence
FROM
(
    SELECT
        toDate(event_time) AS day,
        model_name,
        model_version,
        count() AS labelled,
        countIf(label = truth) AS correct,
        countIf(label = 'POSITIVE' AND truth = 'POSITIVE') AS tp,
        countIf(label = 'POSITIVE' AND truth = 'NEGATIVE') AS fp,
        countIf(label = 'NEGATIVE' AND truth = 'POSITIVE') AS fn,
        countIf(label = 'NEGATIVE' AND truth = 'NEGATIVE') AS tn,
        avg(confidence) AS mean_confidence
    FROM
    (
        SELECT model_name, model_version, event_time, label, confidence,
            assumeNotNull(ground_truth) AS truth
        FROM predictions_dedup
        WHERE ground_truth IS NOT NULL
    )
    GROUP BY day, model_name, model_version
);

-- The same per model version and hour.
CREATE VIEW IF NOT EXISTS quality_hourly AS
SELECT
    hour,
    model_name,
    model_version,
    labelled,
    correct,
    tp,
    fp,
    fn,
    tn,
    correct / labelled AS accuracy,
    if(tp + fp = 0, NULL, tp / (tp + fp)) AS precision,
    if(tp + fn = 0, NULL, tp / (tp + fn)) AS recall,
    if(2 * tp + fp + fn = 0, NULL, (2 * tp) / (2 * tp + fp + fn)) AS f1,
    mean_confidence
FROM
(
    SELECT
        toStartOfHour(event_time) AS hour,
        model_name,
        model_version,
        count() AS labelled,
        countIf(label = truth) AS correct,
        countIf(label = 'POSITIVE' AND truth = 'POSITIVE') AS tp,
        countIf(label = 'POSITIVE' AND truth = 'NEGATIVE') AS fp,
        countIf(label = 'NEGATIVE' AND truth = 'POSITIVE') AS fn,
        countIf(label = 'NEGATIVE' AND truth = 'NEGATIVE') AS tn,
        avg(confidence) AS mean_confidence
    FROM
    (
        SELECT model_name, model_version, event_time, label, confidence,
            assumeNotNull(ground_truth) AS truth
        FROM predictions_dedup
        WHERE ground_truth IS NOT NULL
    )
    GROUP BY hour, model_name, model_version
);

-- Registry: the newest revision of every model version, with the golden-set metrics taken
-- out of the `metrics` JSON (0 when a metric is absent).
CREATE VIEW IF NOT EXISTS model_versions_latest AS
SELECT
    model_name,
    version,
    parent_version,
    created_time,
    status,
    note,
    visitParamExtractFloat(metrics, 'golden_f1') AS golden_f1,
    visitParamExtractFloat(metrics, 'golden_accuracy') AS golden_accuracy,
    metrics,
    drift_threshold,
    length(reference_centroid) AS centroid_dimensions,
    reference_centroid,
    artifact_uri,
    artifact_sha256,
    training_data,
    training_data_sha256,
    drift_calibration,
    revision
FROM model_versions
ORDER BY model_name, version, revision DESC
LIMIT 1 BY model_name, version;

-- The promotion log, one row per decision (a retried decision collapses into one row; the
-- newest copy wins, as in the table's background merges).
CREATE VIEW IF NOT EXISTS promotion_log_dedup AS
SELECT *
FROM promotion_log
ORDER BY decision_id, decision_time_ms DESC
LIMIT 1 BY decision_id;

-- Model timeline: every registry decision in time order, with the version it concerns
-- (parent, creation time, current status, golden-set metrics). The joined subqueries carry
-- aliases: current ClickHouse refuses a join of unaliased subqueries (ALIAS_REQUIRED).
CREATE VIEW IF NOT EXISTS model_timeline AS
SELECT
    decision_time,
    decision_time_ms,
    model_name,
    decision,
    version,
    production_before,
    production_after,
    candidate_score,
    production_score,
    actor,
    reason,
    parent_version,
    created_time,
    status,
    golden_f1,
    golden_accuracy,
    decision_id
FROM
(
    SELECT
        decision_time, decision_time_ms, model_name, decision,
        candidate_version AS version, production_before, production_after,
        candidate_score, production_score, actor, reason, decision_id
    FROM promotion_log_dedup
) AS decisions
ANY LEFT JOIN
(
    SELECT model_name, version, parent_version, created_time, status, golden_f1,
        golden_accuracy
    FROM model_versions_latest
) AS versions USING (model_name, version)
ORDER BY model_name, decision_time_ms, decision_id;

-- Which version was production when: one row per PROMOTED or ROLLED_BACK decision, from its
-- time until the next one (production_until NULL: production now). The production alias is
-- production_after of the latest such decision (services/shared/src/store/registry.ts).
CREATE VIEW IF NOT EXISTS production_periods AS
SELECT
    model_name,
    tupleElement(change, 2) AS version,
    tupleElement(change, 3) AS decision,
    toDateTime(intDiv(tupleElement(change, 1), 1000)) AS production_since,
    if(step = length(changes), NULL,
        toDateTime(intDiv(tupleElement(changes[step + 1], 1), 1000))) AS production_until,
    step = length(changes) AS is_current
FROM
(
    SELECT
        model_name,
        arraySort(c -> (tupleElement(c, 1), tupleElement(c, 4)),
            groupArray((decision_time_ms, assumeNotNull(production_after), decision,
                decision_id))) AS changes
    FROM promotion_log_dedup
    WHERE decision IN ('PROMOTED', 'ROLLED_BACK') AND production_after IS NOT NULL
    GROUP BY model_name
)
ARRAY JOIN
    changes AS change,
    arrayEnumerate(changes) AS step;

-- Drift history: every drift check with its statistics beside their thresholds and whether
-- each was over (domain_over is NULL when no domain classifier ran); one row per check_id, in
-- case a check was written twice.
CREATE VIEW IF NOT EXISTS drift_history AS
SELECT
    check_time,
    model_name,
    model_version,
    segment,
    window_start,
    window_end,
    window_size,
    input_distance,
    input_threshold,
    input_distance > input_threshold AS input_over,
    domain_auc,
    domain_auc_threshold,
    domain_auc > domain_auc_threshold AS domain_over,
    class_mix_distance,
    class_mix_threshold,
    class_mix_distance > class_mix_threshold AS class_mix_over,
    positive_share,
    reference_positive_share,
    input_state,
    prediction_state,
    error,
    check_time_ms,
    check_id
FROM drift_checks
ORDER BY check_id, check_time_ms DESC
LIMIT 1 BY check_id;
