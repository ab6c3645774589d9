-- Payouts to creators: requested by the creator, approved or rejected by
-- an operator, then sent through the channel of the creator's payout
-- account with the payout's id as the transfer's idempotency key.
CREATE TABLE payouts (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL,
    creator_id     TEXT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    channel        TEXT NOT NULL,
    account        TEXT NOT NULL,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    failure_reason TEXT NOT NULL DEFAULT '',
    decided_by     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX payouts_by_status ON payouts (status, updated_at);
CREATE INDEX payouts_by_project ON payouts (project_id);

-- The sandbox channel's own record of its transfers, as a provider keeps
-- them: one per payout id, whatever the number of requests.
CREATE TABLE sandbox_transfers (
    payout_id  TEXT PRIMARY KEY,
    amount     BIGINT NOT NULL,
    account    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
