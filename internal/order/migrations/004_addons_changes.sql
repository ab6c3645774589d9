-- What splits an order's amount and what changed it, as JSON: add-ons,
-- shipping fee, revision, a paid pledge's change waiting for its
-- difference, its payments and those returned.
ALTER TABLE orders ADD COLUMN extra TEXT NOT NULL DEFAULT '';
-- When a pending change's difference is due (NULL: no change pending).
ALTER TABLE orders ADD COLUMN change_due TEXT;
CREATE INDEX orders_change_due ON orders (change_due);
