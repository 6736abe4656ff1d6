-- Analysts' view of predictions: exactly one row per event id, whatever Kafka redelivered
-- and whether or not background merges have run (LIMIT 1 BY is exact at query time).
CREATE VIEW IF NOT EXISTS predictions_dedup AS
SELECT *
FROM predictions
ORDER BY event_id, ingest_time
LIMIT 1 BY event_id;
