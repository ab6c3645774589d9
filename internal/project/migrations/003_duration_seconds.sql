-- A campaign's length to the second (a duration such as "20s" for tests
-- and demos); duration_days stays, rounded up, for pages.
ALTER TABLE projects ADD COLUMN duration_seconds BIGINT NOT NULL DEFAULT 0;
