-- PostgreSQL only (004_message_inline.postgres.sql).
SELECT 1;
