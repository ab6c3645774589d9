-- The double-entry ledger (docs/money.md): every movement of money is
-- entries of one event that sum to zero (debits positive, credits
-- negative), written in the transaction of the change that caused it. An
-- event writes an account once: a repeated event fails its transaction
-- rather than count twice.
CREATE TABLE ledger_entries (
    event      TEXT NOT NULL,
    account    TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount <> 0),
    created_at TEXT NOT NULL,
    PRIMARY KEY (event, account)
);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account);

-- Each account's balance, kept with its entries (reconcile checks that
-- they agree).
CREATE TABLE ledger_balances (
    account TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
);

-- The money that moved before the ledger: captured payments, refunds owed
-- and refunds sent, as the events that write them now would have.
INSERT INTO ledger_entries (event, account, amount, created_at)
    SELECT 'capture:' || id, 'cash:' || channel, amount, created_at FROM payments WHERE status IN ('succeeded', 'refunded');
INSERT INTO ledger_entries (event, account, amount, created_at)
    SELECT 'capture:' || id, 'held:' || project_id, -amount, created_at FROM payments WHERE status IN ('succeeded', 'refunded');
INSERT INTO ledger_entries (event, account, amount, created_at)
    SELECT 'refund-owed:' || p.id, 'held:' || p.project_id, r.amount, r.created_at FROM refunds r JOIN payments p ON p.id = r.payment_id;
INSERT INTO ledger_entries (event, account, amount, created_at)
    SELECT 'refund-owed:' || p.id, 'refunds:' || p.project_id, -r.amount, r.created_at FROM refunds r JOIN payments p ON p.id = r.payment_id;
INSERT INTO ledger_entries (event, account, amount, created_at)
    SELECT 'refund-sent:' || p.id, 'refunds:' || p.project_id, r.amount, r.created_at FROM refunds r JOIN payments p ON p.id = r.payment_id
    WHERE r.status = 'succeeded';
INSERT INTO ledger_entries (event, account, amount, created_at)
    SELECT 'refund-sent:' || p.id, 'cash:' || p.channel, -r.amount, r.created_at FROM refunds r JOIN payments p ON p.id = r.payment_id
    WHERE r.status = 'succeeded';
INSERT INTO ledger_balances (account, balance) SELECT account, SUM(amount) FROM ledger_entries GROUP BY account;
