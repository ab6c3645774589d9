-- Counting a member's unpaid pledges of a project (the hoarding limit).
CREATE INDEX orders_unpaid_by_member ON orders (member_id, project_id, status);
