-- The pledge's trace context (W3C traceparent), which what the payment
-- causes later continues.
ALTER TABLE payments ADD COLUMN trace TEXT NOT NULL DEFAULT '';
