-- Each channel's daily bill matched with the ledger (the daily check and
-- `sanshi admin reconcile --bills`): the last result per day and channel.
CREATE TABLE bill_matches (
    day        TEXT NOT NULL,
    channel    TEXT NOT NULL,
    lines      INTEGER NOT NULL,
    ledger     INTEGER NOT NULL,
    problems   TEXT NOT NULL,
    error      TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (day, channel)
);
