-- Only undelivered messages are looked for: the index keeps only them, so
-- a delivered message leaves it instead of staying in it for good, and
-- marking one delivered writes no entry into it.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
