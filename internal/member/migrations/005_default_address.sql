-- One address of a member may be the default: pledge pages choose it first.
ALTER TABLE addresses ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;
