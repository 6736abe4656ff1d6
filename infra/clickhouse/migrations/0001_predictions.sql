-- Every prediction (stream and sync) with its [CLS] embedding, one row per delivery.
-- ReplacingMergeTree merges identical redeliveries (same sorting key) in the background;
-- analysts read the de-duplicating views of 0002, which are exact at any moment.
-- Ordered for time-window scans per model version. SQL valid on ClickHouse 18.16 and current.
CREATE TABLE IF NOT EXISTS predictions
(
    event_id String,
    review_id String,
    review_event_id Nullable(String),
    origin String,
    source String,
    text String,
    model_name String,
    model_version String,
    label String,
    probabilities Array(Float32),
    confidence Float32,
    embedding Array(Float32),
    latency_ms Float64,
    truncated UInt8,
    ground_truth Nullable(String),
    event_time DateTime,
    event_time_ms UInt64,
    ingest_time DateTime,
    schema_id UInt32,
    kafka_partition UInt32,
    kafka_offset UInt64
)
ENGINE = ReplacingMergeTree(ingest_time)
PARTITION BY toYYYYMM(event_time)
ORDER BY (model_name, model_version, event_time, event_id);
