-- A reward is a tier (one per pledge) or an add-on (bought beside a tier,
-- or alone when the creator allows it, in any quantity).
ALTER TABLE rewards ADD COLUMN kind TEXT NOT NULL DEFAULT 'tier';
ALTER TABLE rewards ADD COLUMN alone INTEGER NOT NULL DEFAULT 0;
-- Shipping fees by region, as JSON [{"region": "CN", "fee": 0}, ...];
-- empty: ships everywhere at no charge.
ALTER TABLE rewards ADD COLUMN shipping TEXT NOT NULL DEFAULT '';

-- The units an order holds when it holds more than one tier unit: its
-- add-ons, and its tier once the pledge was changed. The reservation row
-- keeps the order's state; its reward_id is then empty.
CREATE TABLE reservation_items (
    order_id  TEXT NOT NULL,
    reward_id TEXT NOT NULL,
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, reward_id)
);

-- The order's version of its latest holding: an older one arriving late
-- changes nothing.
ALTER TABLE reservations ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;

-- A pledge's amount can change (a changed pledge); revision orders the
-- changes so that a late, older one changes nothing.
ALTER TABLE pledges ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
