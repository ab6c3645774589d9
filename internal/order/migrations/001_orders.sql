CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    reward_id   TEXT,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    status      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX orders_by_member ON orders (member_id, created_at);
CREATE INDEX orders_by_project ON orders (project_id, status);
