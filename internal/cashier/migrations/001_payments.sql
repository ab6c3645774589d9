CREATE TABLE payments (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX payments_by_order ON payments (order_id);
