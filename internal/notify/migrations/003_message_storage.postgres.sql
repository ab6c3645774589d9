-- A mail's message (a few kilobytes, about half that compressed) is kept
-- compressed out of the row: the claim and the "sent" record then copy a
-- row of a few hundred bytes, not the message kept inline with it, and
-- write that much less WAL.
ALTER TABLE mails SET (toast_tuple_target = 128);
