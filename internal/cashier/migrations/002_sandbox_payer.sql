-- The sandbox keeps who pays a trade on the trade, as a provider knows its
-- payer: the pay page checks the payer and records the decision in one
-- statement, without reading the payment.
ALTER TABLE sandbox_trades ADD COLUMN payer TEXT NOT NULL DEFAULT '';
UPDATE sandbox_trades SET payer = COALESCE((SELECT member_id FROM payments WHERE payments.id = sandbox_trades.payment_id), '');
