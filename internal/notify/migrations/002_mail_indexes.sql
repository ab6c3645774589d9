-- The mailer looks for queued mail by when it is due (mails_due, kept to
-- queued mail). An index led by the state would serve that search too
-- badly: SQLite's planner preferred it, read every queued mail and sorted
-- them for each claim. The console's lists read the newest mail by id
-- (the key), and its dead letters from an index of their own.
DROP INDEX mails_by_state;
CREATE INDEX mails_dead ON mails (id) WHERE state = 'dead';
