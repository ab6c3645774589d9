-- Where a creator's payouts go (one account per member).
CREATE TABLE payout_accounts (
    member_id  TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    account    TEXT NOT NULL,
    name       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
