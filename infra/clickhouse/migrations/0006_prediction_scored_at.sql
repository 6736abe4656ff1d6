-- Copies of one prediction merge; the scoring time is kept outside the sorting key.
--
-- Kafka delivers at least once, so one review may be scored more than once (a consumer
-- redelivery after a crash, a producer retry). The ReplacingMergeTree of 0001 merges copies
-- only if they agree in the sorting key (model_name, model_version, event_time, event_id)
-- and the partition (month of event_time). event_time used to be the time of scoring, which
-- differs per delivery, so copies never merged. From this migration on, the event_time of a
-- stream prediction is its review's eventTime, the same in every copy, so merges collapse
-- them; it is also the time analysts group by (when reviews came in, not when a backlog was
-- scored). A synchronous prediction (the gateway's) has no review event and is scored once:
-- its event_time stays the scoring time. Not the Kafka record timestamp of the review: a
-- producer that publishes the same review event again makes a new record with a new
-- timestamp. The sorting key itself stays: it serves time-window scans per model
-- version, and a ClickHouse sorting key cannot lose a column in place (18.16 cannot change it
-- at all), so changing it would mean copying the table. Rows stored before keep their
-- scoring time as event_time; the views remove their duplicates as before.
--
-- The scoring time of each copy stays available as scored_at / scored_at_ms. For rows
-- stored before, and inserts whose column list leaves them out (a logger older than this
-- migration), the defaults give event_time, which was the scoring time then. (A JSON row
-- that omits them gets 0 on 18.16, which ignores DEFAULT there: send every column.) Both in one ALTER, so a rerun after a failure does not meet
-- one column added and the other not.
ALTER TABLE predictions
    ADD COLUMN scored_at DateTime DEFAULT event_time AFTER ingest_time,
    ADD COLUMN scored_at_ms UInt64 DEFAULT event_time_ms AFTER scored_at;

-- predictions_dedup again, with the new columns (a view's columns are fixed when it is
-- created, on 18.16 as on current ClickHouse). It now keeps the newest ingested copy of each
-- event, the one a merge keeps (ReplacingMergeTree(ingest_time) keeps the highest
-- ingest_time; of copies ingested in the same second, any one), so its per-copy columns
-- (scored_at, latency_ms, ingest_time, schema_id, kafka_partition, kafka_offset) do not
-- change when a merge runs. The views of 0004 read it by name and need no change.
-- DROP TABLE: 18.16 has no DROP VIEW.
DROP TABLE IF EXISTS predictions_dedup;

CREATE VIEW IF NOT EXISTS predictions_dedup AS
SELECT *
FROM predictions
ORDER BY event_id, ingest_time DESC
LIMIT 1 BY event_id;
