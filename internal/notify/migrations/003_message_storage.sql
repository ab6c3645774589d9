-- PostgreSQL only (003_message_storage.postgres.sql): SQLite keeps a long
-- value on overflow pages of its own already.
SELECT 1;
