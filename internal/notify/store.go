package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
)

// Store is the notification service's storage.
type Store struct {
	db   *store.DB
	sent batch.Group[sentMail, struct{}] // by claimant
}

// newStore keeps notify's rows in db.
func newStore(db *store.DB) *Store {
	s := &Store{db: db}
	s.sent.Run = s.mailsSent
	// The mailer's workers finish their mails a little apart: a mail
	// waits up to a millisecond for the others' records to go with it.
	s.sent.Linger = time.Millisecond
	return s
}

// claimFor is how long a claimed event or mail is an instance's: a crashed
// instance's claims are taken over after it. A fan-out renews its claim
// after each chunk; a mail is recorded as sent only by the instance that
// holds its claim, so a claim taken over never sends a mail twice.
const claimFor = 15 * time.Second

// receivedEvent is an event as delivered, with its notices when it was
// fanned out on arrival (nil: it is kept due, for the fan-out loop).
type receivedEvent struct {
	id, body string
	notices  *eventNotices
}

// Receive keeps delivered events, each once (a second delivery of an id
// changes nothing), in one transaction: an event fanned out on arrival
// with its mails and inbox entries and done, any other due for the fan-out
// loop. due says whether it kept an event due, mailed is the mail it
// wrote; errs has each event's error (when the transaction fails, each
// event is kept alone, so that only the one at fault fails).
func (s *Store) Receive(ctx context.Context, evs []receivedEvent, now time.Time) (due bool, mailed []mailRow, errs []error) {
	errs = make([]error, len(evs))
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		due, mailed, err = s.receive(ctx, tx, evs, now)
		return err
	})
	switch {
	case err == nil:
		return due, mailed, errs
	case len(evs) == 1:
		errs[0] = err
		return false, nil, errs
	}
	due, mailed = false, nil
	for i := range evs {
		d, m, e := s.Receive(ctx, evs[i:i+1], now)
		due, mailed, errs[i] = due || d, append(mailed, m...), e[0]
	}
	return due, mailed, errs
}

func (s *Store) receive(ctx context.Context, tx *sql.Tx, evs []receivedEvent, now time.Time) (due bool, mailed []mailRow, err error) {
	ts := store.TS(now)
	rows := make([][]any, len(evs))
	for i, e := range evs {
		var done any // NULL: due now
		attempts := 0
		if e.notices != nil {
			done, attempts = ts, 1
		}
		rows[i] = []any{e.id, e.body, ts, ts, attempts, done}
	}
	kept := map[string]bool{} // the ids new to the table
	err = eachInsert(`INSERT INTO events (id, body, received_at, next_attempt_at, attempts, done_at) VALUES %s
		ON CONFLICT (id) DO NOTHING RETURNING id`, rows, func(q string, args []any) error { return collectIDs(ctx, tx, q, args, kept) })
	if err != nil {
		return false, nil, err
	}
	var fanned []eventNotices
	for _, e := range evs {
		if !kept[e.id] {
			continue // delivered before (or twice in this batch)
		}
		delete(kept, e.id)
		if e.notices == nil {
			due = true
			continue
		}
		fanned = append(fanned, *e.notices)
		mailed = append(mailed, e.notices.mails...)
	}
	return due, mailed, insertNotices(ctx, tx, fanned, ts)
}

// collectIDs runs q and adds the ids it returns to into.
func collectIDs(ctx context.Context, tx *sql.Tx, q string, args []any, into map[string]bool) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		into[id] = true
	}
	return rows.Err()
}

type storedEvent struct {
	id, body string
	attempts int
}

// ClaimEvents takes up to limit events due for fan-out.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, limit int) ([]storedEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Claim("events", "id", "claimed_until = $1, attempts = attempts + 1",
		"done_at IS NULL AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2)", "next_attempt_at", limit,
		"id, body, attempts"), store.TS(now.Add(claimFor)), store.TS(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		if err := rows.Scan(&e.id, &e.body, &e.attempts); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventFailed puts an event back for a later fan-out.
func (s *Store) EventFailed(ctx context.Context, id string, cause error, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE events SET claimed_until = NULL, next_attempt_at = $1, last_error = $2 WHERE id = $3`,
		store.TS(next), truncate(cause.Error(), 500), id)
	return err
}

type mailRow struct {
	id, eventID, recipient, kind, address, subject, message string
	attempts                                                int
	// claimedBy and until: a mail written already claimed by a mailer of
	// this instance, handed to it in memory (Mailer.Take); else "" and zero.
	claimedBy string
	until     time.Time
}

type noteRow struct {
	member string
	kind   string
	n      notice
}

// rowsPerInsert bounds a multi-row insert (PostgreSQL takes up to 65,535
// arguments in one statement; SQLite 32,766).
const rowsPerInsert = 200

// FanOut writes events' mails and inbox entries and marks them done, in
// one transaction: a crash before the commit leaves the events due again,
// and the unique (event, recipient) keys make a second fan-out of a part
// already written harmless.
func (s *Store) FanOut(ctx context.Context, events []eventNotices, now time.Time) error {
	return s.writeNotices(ctx, events, now, true)
}

// WriteNotices writes one chunk of an event's mails and inbox entries, the
// event staying due until its last chunk (FanOut).
func (s *Store) WriteNotices(ctx context.Context, part eventNotices, now time.Time) error {
	return s.writeNotices(ctx, []eventNotices{part}, now, false)
}

func (s *Store) writeNotices(ctx context.Context, events []eventNotices, now time.Time, done bool) error {
	ts := store.TS(now)
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.event
	}
	in, idArgs := s.db.In(2, ids)
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertNotices(ctx, tx, events, ts); err != nil {
			return err
		}
		if !done {
			// Renew the claim: this instance is still fanning the event out.
			// #nosec G202 -- only placeholders are built; the ids go as arguments
			_, err := tx.ExecContext(ctx, `UPDATE events SET claimed_until = $1 WHERE id`+in, append([]any{store.TS(now.Add(claimFor))}, idArgs...)...)
			return err
		}
		// #nosec G202 -- only placeholders are built; the ids go as arguments
		_, err := tx.ExecContext(ctx, `UPDATE events SET done_at = $1, claimed_until = NULL, last_error = '' WHERE id`+in, append([]any{ts}, idArgs...)...)
		return err
	})
}

// insertNotices writes events' mails (queued) and inbox entries; a mail or
// entry already written for its event and recipient stays as it is.
func insertNotices(ctx context.Context, tx *sql.Tx, events []eventNotices, ts string) error {
	var mails, notes [][]any
	for _, ev := range events {
		for _, m := range ev.mails {
			var until any // NULL: not claimed
			if m.claimedBy != "" {
				until = store.TS(m.until)
			}
			mails = append(mails, []any{m.id, ev.event, m.recipient, m.kind, m.address, m.subject, m.message, "queued", ts, ts, until, m.claimedBy})
		}
		for _, n := range ev.notes {
			notes = append(notes, []any{store.NewID(), n.member, ev.event, n.kind, n.n.Title, n.n.Body, n.n.Link, ts})
		}
	}
	if err := insertRows(ctx, tx, `INSERT INTO mails (id, event_id, recipient, kind, address, subject, message, state, next_attempt_at, created_at,
		claimed_until, claimed_by) VALUES %s ON CONFLICT (event_id, recipient) DO NOTHING`, mails); err != nil {
		return err
	}
	return insertRows(ctx, tx, `INSERT INTO notifications (id, member_id, event_id, kind, title, body, link, created_at)
		VALUES %s ON CONFLICT (event_id, member_id) DO NOTHING`, notes)
}

// insertRows inserts rows with query (its VALUES as %s), up to
// rowsPerInsert to a statement.
func insertRows(ctx context.Context, tx *sql.Tx, query string, rows [][]any) error {
	return eachInsert(query, rows, func(q string, args []any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
}

// eachInsert hands run query (its VALUES as %s) with the tuples of up to
// rowsPerInsert rows and their values, part after part.
func eachInsert(query string, rows [][]any, run func(q string, args []any) error) error {
	for start := 0; start < len(rows); start += rowsPerInsert {
		part := rows[start:min(start+rowsPerInsert, len(rows))]
		args := make([]any, 0, len(part)*len(part[0]))
		for _, r := range part {
			args = append(args, r...)
		}
		// #nosec G201 -- only numbered placeholders are built; the values go as arguments
		if err := run(fmt.Sprintf(query, store.Tuples(1, len(part), len(part[0]))), args); err != nil {
			return err
		}
	}
	return nil
}

// Switches reads the preferences of members, by member.
func (s *Store) Switches(ctx context.Context, members []string) (map[string]switches, error) {
	out := map[string]switches{}
	for start := 0; start < len(members); start += 500 {
		part := members[start:min(start+500, len(members))]
		in, args := s.db.In(1, part)
		rows, err := s.db.QueryContext(ctx, `SELECT member_id, kind, channel, enabled FROM preferences WHERE member_id`+in, args...) // #nosec G202 -- placeholders only
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var m, k, ch string
			var on int
			if err := rows.Scan(&m, &k, &ch, &on); err != nil {
				_ = rows.Close()
				return nil, err
			}
			if out[m] == nil {
				out[m] = switches{}
			}
			if out[m][k] == nil {
				out[m][k] = map[string]bool{}
			}
			out[m][k][ch] = on == 1
		}
		_ = rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetSwitch turns one kind on or off by one channel for a member.
func (s *Store) SetSwitch(ctx context.Context, member, kind, channel string, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO preferences (member_id, kind, channel, enabled) VALUES ($1, $2, $3, $4)
		ON CONFLICT (member_id, kind, channel) DO UPDATE SET enabled = excluded.enabled`, member, kind, channel, v)
	return err
}

// ClaimMails takes up to limit queued mails that are due, for claimant.
func (s *Store) ClaimMails(ctx context.Context, claimant string, now time.Time, limit int) ([]mailRow, error) {
	rows, err := s.db.QueryContext(ctx, s.claimMailsSQL(limit), store.TS(now.Add(claimFor)), store.TS(now), claimant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailRow
	for rows.Next() {
		var m mailRow
		if err := rows.Scan(&m.id, &m.eventID, &m.recipient, &m.kind, &m.address, &m.subject, &m.message, &m.attempts); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// claimMailsSQL claims up to limit due mails ($1 the claim's end, $2 now,
// $3 the claimant), found through mails_due in the order they are due.
func (s *Store) claimMailsSQL(limit int) string {
	return s.db.Claim("mails", "id", "claimed_until = $1, claimed_by = $3",
		"state = 'queued' AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2)", "next_attempt_at", limit,
		"id, event_id, recipient, kind, address, subject, message, attempts")
}

// MailSent records a mail as sent, if claimant still holds its claim (a
// claim that ran out and was taken over by another instance is not).
// Mails sent side by side are recorded together (one statement and one
// commit), each answered whether its own row was.
func (s *Store) MailSent(ctx context.Context, claimant, id string, now time.Time) error {
	_, err := s.sent.Do(ctx, claimant, sentMail{id: id, at: now})
	return err
}

type sentMail struct {
	id string
	at time.Time
}

func (s *Store) mailsSent(ctx context.Context, claimant string, ms []sentMail) []batch.Result[struct{}] {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	got, err := s.MailsSent(ctx, claimant, ids, ms[0].at)
	recorded := map[string]bool{}
	for _, id := range got {
		recorded[id] = true
	}
	out := make([]batch.Result[struct{}], len(ms))
	for i, m := range ms {
		switch {
		case err != nil:
			out[i].Err = err
		case !recorded[m.id]:
			out[i].Err = errors.New("the mail's claim was lost")
		}
	}
	return out
}

// MailsSent records mails as sent in one statement and returns those it
// recorded: the ones whose claim claimant still held.
func (s *Store) MailsSent(ctx context.Context, claimant string, ids []string, now time.Time) ([]string, error) {
	in, idArgs := s.db.In(3, ids)
	// #nosec G202 -- placeholders only; the ids go as arguments
	return s.db.Strings(ctx, `UPDATE mails SET state = 'sent', sent_at = $1, attempts = attempts + 1, claimed_until = NULL, last_error = ''
		WHERE state = 'queued' AND claimed_by = $2 AND id`+in+` RETURNING id`, append([]any{store.TS(now), claimant}, idArgs...)...)
}

// MailFailed records a failed attempt: due again at next, or dead. A mail
// recorded as sent just before the server refused it counts that attempt
// once (MailSent counted it already).
func (s *Store) MailFailed(ctx context.Context, id string, cause error, next time.Time, dead bool) error {
	state := "queued"
	if dead {
		state = "dead"
	}
	_, err := s.db.ExecContext(ctx, `UPDATE mails SET state = $1, attempts = CASE WHEN state = 'sent' THEN attempts ELSE attempts + 1 END,
		next_attempt_at = $2, claimed_until = NULL, last_error = $3, sent_at = NULL WHERE id = $4`, state, store.TS(next), truncate(cause.Error(), 500), id)
	return err
}

// MailDeferred moves a mail's due time without counting an attempt (the
// per-recipient limit).
func (s *Store) MailDeferred(ctx context.Context, id string, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE mails SET next_attempt_at = $1, claimed_until = NULL WHERE id = $2`, store.TS(next), id)
	return err
}

const mailCols = `id, kind, address, subject, state, attempts, last_error, created_at, sent_at`

func scanMail(row store.Row, extra ...any) (notifyapi.Mail, error) {
	var m notifyapi.Mail
	var created string
	var sent sql.NullString
	if err := row.Scan(append([]any{&m.ID, &m.Kind, &m.To, &m.Subject, &m.State, &m.Attempts, &m.LastError, &created, &sent}, extra...)...); err != nil {
		return m, err
	}
	m.CreatedAt = store.ParseTS(created)
	if sent.Valid {
		t := store.ParseTS(sent.String)
		m.SentAt = &t
	}
	return m, nil
}

// Mails lists recent mail, newest first, optionally of one state.
func (s *Store) Mails(ctx context.Context, state string, limit int) ([]notifyapi.Mail, error) {
	q := `SELECT ` + mailCols + ` FROM mails`
	args := []any{}
	switch state {
	case "":
	case "dead": // written out, so that the planner can use mails_dead
		q += ` WHERE state = 'dead'`
	default:
		q += ` WHERE state = $1`
		args = append(args, state)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id DESC LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []notifyapi.Mail{}
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Mail reads one mail, with its whole message when whole is set.
func (s *Store) Mail(ctx context.Context, id string, whole bool) (notifyapi.Mail, error) {
	var msg string
	m, err := scanMail(s.db.QueryRowContext(ctx, `SELECT `+mailCols+`, message FROM mails WHERE id = $1`, id), &msg)
	if isNoRows(err) {
		return m, errs.E(errs.NotFound, "no such mail")
	}
	if whole {
		m.Message = msg
	}
	return m, err
}

// Retry puts a dead letter back in the queue, due now.
func (s *Store) Retry(ctx context.Context, id string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE mails SET state = 'queued', next_attempt_at = $1, last_error = '' WHERE id = $2 AND state = 'dead'`,
		store.TS(now), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no such dead letter")
	}
	return nil
}

// Inbox reads a member's latest notifications and the unread count.
func (s *Store) Inbox(ctx context.Context, member string, limit int) (notifyapi.Inbox, error) {
	in := notifyapi.Inbox{Items: []notifyapi.Notification{}}
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, title, body, link, created_at, read_at FROM notifications
		WHERE member_id = $1 ORDER BY created_at DESC, id DESC LIMIT `+strconv.Itoa(limit), member)
	if err != nil {
		return in, err
	}
	defer rows.Close()
	for rows.Next() {
		var n notifyapi.Notification
		var created string
		var read sql.NullString
		if err := rows.Scan(&n.ID, &n.Kind, &n.Title, &n.Body, &n.Link, &created, &read); err != nil {
			return in, err
		}
		n.CreatedAt = store.ParseTS(created)
		if read.Valid {
			t := store.ParseTS(read.String)
			n.ReadAt = &t
		}
		in.Items = append(in.Items, n)
	}
	if err := rows.Err(); err != nil {
		return in, err
	}
	in.Unread, err = s.Unread(ctx, member)
	return in, err
}

// Unread counts a member's unread notifications.
func (s *Store) Unread(ctx context.Context, member string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE member_id = $1 AND read_at IS NULL`, member).Scan(&n)
	return n, err
}

// MarkRead marks every notification of a member read.
func (s *Store) MarkRead(ctx context.Context, member string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE notifications SET read_at = $1 WHERE member_id = $2 AND read_at IS NULL`, store.TS(now), member)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
