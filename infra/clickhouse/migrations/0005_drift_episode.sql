-- The drift episode a check belongs to (set while the segment is in DRIFT). A restarted or
-- newly elected detector resumes each segment's state and episode from its latest check, so
-- one drift episode keeps one id (the retrainer trains once per episode).
ALTER TABLE drift_checks ADD COLUMN episode_id Nullable(String);
