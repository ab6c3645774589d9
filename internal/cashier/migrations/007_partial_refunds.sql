-- A payment may be refunded in parts (a pledge changed to cost less) and
-- then in full (what is left): refunds are no longer one per payment.
-- full marks the refund of what was left, after which the payment is
-- refunded.
CREATE TABLE refunds_parts (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    order_id        TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    full_refund     INTEGER NOT NULL DEFAULT 1
);
INSERT INTO refunds_parts (id, payment_id, order_id, amount, reason, status, attempts, next_attempt_at, last_error, created_at, finished_at)
    SELECT id, payment_id, order_id, amount, reason, status, attempts, next_attempt_at, last_error, created_at, finished_at FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_parts RENAME TO refunds;
CREATE INDEX refunds_due ON refunds (status, next_attempt_at);
CREATE INDEX refunds_by_payment ON refunds (payment_id);

-- The sandbox's own record of each refund it made, once per refund id.
CREATE TABLE sandbox_refunds (
    refund_id  TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount     BIGINT NOT NULL
);
