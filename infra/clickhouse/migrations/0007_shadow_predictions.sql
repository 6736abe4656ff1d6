-- Shadow predictions (issue 15): a candidate in SHADOW scores the same reviews and sync
-- requests as production; the logger stores its predictions in this table too, with
-- origin = 'SHADOW' and shadow_of = the event_id of production's prediction of the same review
-- or request, the key that joins the two (and, through production's row, its ground truth).
-- Shadow rows have event ids of their own (derived from the review event and the candidate's
-- version, or random for sync requests), so predictions_dedup keeps both rows of a pair.
-- Served traffic is origin != 'SHADOW'; the analyst views of 0004 group by model version, so a
-- candidate's shadow rows show as its own version's rows there.
-- NULL for every row stored before and every non-shadow row.
ALTER TABLE predictions
    ADD COLUMN shadow_of Nullable(String) AFTER scored_at_ms;

-- predictions_dedup again, with the new column (a view's columns are fixed when it is
-- created). Same definition as 0006. DROP TABLE: 18.16 has no DROP VIEW.
DROP TABLE IF EXISTS predictions_dedup;

CREATE VIEW IF NOT EXISTS predictions_dedup AS
SELECT *
FROM predictions
ORDER BY event_id, ingest_time DESC
LIMIT 1 BY event_id;
