-- The loops and the unpaid limits look only for orders in one state: their
-- indexes keep only those orders, so a paid order leaves them and each of
-- its later changes writes into fewer indexes.
DROP INDEX orders_due;
CREATE INDEX orders_due ON orders (expires_at) WHERE status = 'pending_payment';
CREATE INDEX orders_reserving ON orders (created_at) WHERE status = 'reserving';
DROP INDEX orders_unpaid_by_member;
CREATE INDEX orders_unpaid_by_member ON orders (member_id, project_id) WHERE status IN ('reserving', 'pending_payment');
DROP INDEX orders_change_due;
CREATE INDEX orders_change_due ON orders (change_due) WHERE change_due IS NOT NULL;
