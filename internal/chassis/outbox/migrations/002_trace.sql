-- The trace context (W3C traceparent) of the request that wrote the
-- message: its delivery continues that trace.
ALTER TABLE outbox ADD COLUMN trace TEXT NOT NULL DEFAULT '';
