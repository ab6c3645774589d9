-- A login attempt is recorded as a failure before the password is checked
-- (so that parallel guesses count at once) and removed by its id when the
-- password was right.
ALTER TABLE login_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
