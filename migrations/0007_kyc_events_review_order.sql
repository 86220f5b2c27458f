-- Reviews that left the status unchanged still count when ordering later events: a delayed
-- older review must not apply over a newer one that merely repeated the status.
DROP INDEX kyc_events_user_newest_idx;
CREATE INDEX kyc_events_user_newest_idx ON kyc_events (user_id, provider_created_at DESC)
    WHERE outcome IN ('applied', 'unchanged');
