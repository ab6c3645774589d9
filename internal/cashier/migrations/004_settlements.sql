-- Each ended campaign's money, from its end to its payout (docs/money.md).
CREATE TABLE settlements (
    project_id   TEXT PRIMARY KEY,
    creator_id   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    status       TEXT NOT NULL,
    gross        BIGINT NOT NULL DEFAULT 0,
    refunded     BIGINT NOT NULL DEFAULT 0,
    platform_fee BIGINT NOT NULL DEFAULT 0,
    channel_fee  BIGINT NOT NULL DEFAULT 0,
    net          BIGINT NOT NULL DEFAULT 0,
    paid_out     BIGINT NOT NULL DEFAULT 0,
    ended_at     TEXT NOT NULL,
    settled_at   TEXT,
    hold_until   TEXT
);
CREATE INDEX settlements_by_status ON settlements (status);
