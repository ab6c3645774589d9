-- A mail's message is kept in its row again (compressed when it is long,
-- as PostgreSQL does by default): mail is handed to the mailer in memory,
-- not claimed from the table, so the row is written twice (queued, then
-- sent) and no more, and moving each of its values out of the row cost
-- more than copying the row once (`pg_stat_statements` over a pledge
-- burst: 19 WAL records a mail's insert and 7.5 its "sent" update with a
-- target of 128 bytes; 5 and 4.2 with the default).
ALTER TABLE mails RESET (toast_tuple_target);
