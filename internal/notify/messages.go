package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
)

// maxMessage bounds a private message, in characters.
const maxMessage = 2000

// messageBody checks a message's text: plain, trimmed, 1–2,000 characters.
func messageBody(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errs.Fields(map[string]string{"body": "required"})
	case utf8.RuneCountInString(s) > maxMessage:
		return "", errs.Fields(map[string]string{"body": "at most 2000 characters"})
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "", errs.Fields(map[string]string{"body": "not valid text"})
	}
	return s, nil
}

// write starts (or continues) a backer's conversation with a project's
// creator.
func (a *API) write(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var in notifyapi.NewMessage
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	body, err := messageBody(in.Body)
	if err != nil {
		return 0, nil, err
	}
	if in.ProjectID == "" {
		return 0, nil, errs.Fields(map[string]string{"project_id": "required"})
	}
	p, err := a.projects.Get(r.Context(), in.ProjectID)
	if err != nil {
		return 0, nil, err
	}
	if p.CreatorID == me.Member {
		return 0, nil, errs.E(errs.Invalid, "this is your own project")
	}
	c, err := a.store.OpenConversation(r.Context(), p.ID, p.Title, me.Member, p.CreatorID, a.now())
	if err != nil {
		return 0, nil, err
	}
	return a.send(r.Context(), c, me.Member, body)
}

// reply adds a message to a conversation the caller is part of.
func (a *API) reply(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var in notifyapi.NewMessage
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	body, err := messageBody(in.Body)
	if err != nil {
		return 0, nil, err
	}
	c, err := a.participant(r.Context(), r.PathValue("id"), me.Member)
	if err != nil {
		return 0, nil, err
	}
	return a.send(r.Context(), c, me.Member, body)
}

// send stores a message and tells the other side, in one transaction;
// refused when the other side blocked the sender or the sender wrote too
// much in the last hour.
func (a *API) send(ctx context.Context, c notifyapi.Conversation, sender, body string) (int, any, error) {
	other := c.CreatorID
	if sender == c.CreatorID {
		other = c.BackerID
	}
	now := a.now()
	limit := a.intSetting("notify.messages.per-hour", 20)
	err := a.store.db.Tx(ctx, func(tx *sql.Tx) error {
		var blocked, recent int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM blocks WHERE member_id = $1 AND blocked_id = $2`, other, sender).Scan(&blocked); err != nil {
			return err
		}
		if blocked > 0 {
			return errs.E(errs.Forbidden, "this member does not take your messages")
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE sender_id = $1 AND created_at > $2`,
			sender, store.TS(now.Add(-time.Hour))).Scan(&recent); err != nil {
			return err
		}
		if recent >= limit {
			e := errs.E(errs.RateLimited, "too many messages; try again later")
			e.RetryAfter = 600
			return e
		}
		id := store.NewID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, conversation_id, sender_id, body, created_at) VALUES ($1, $2, $3, $4, $5)`,
			id, c.ID, sender, body, store.TS(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET last_at = $1 WHERE id = $2`, store.TS(now), c.ID); err != nil {
			return err
		}
		if err := markConversationRead(ctx, tx, c.ID, sender, now); err != nil {
			return err
		}
		ev, _ := json.Marshal(notifyapi.Event{ID: id, Kind: notifyapi.KindMessage, To: []string{other}, At: now,
			Data: map[string]string{"conversation_id": c.ID, "project_id": c.ProjectID, "from_id": sender, "excerpt": excerpt(body, 200)}})
		_, err := tx.ExecContext(ctx, `INSERT INTO events (id, body, received_at, next_attempt_at) VALUES ($1, $2, $3, $3)`,
			notifyapi.KindMessage+":"+id, string(ev), store.TS(now))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	a.fanout.Kick()
	out, err := a.store.Conversation(ctx, c.ID, sender, now)
	return http.StatusCreated, out, err
}

// excerpt is the first n characters of s.
func excerpt(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func (a *API) participant(ctx context.Context, id, member string) (notifyapi.Conversation, error) {
	c, err := a.store.ConversationHead(ctx, id)
	if err != nil {
		return c, err
	}
	if c.BackerID != member && c.CreatorID != member {
		return c, errs.E(errs.NotFound, "no such conversation")
	}
	return c, nil
}

func (a *API) conversations(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	cs, err := a.store.Conversations(r.Context(), me.Member)
	return http.StatusOK, cs, err
}

// conversation reads one conversation: its two members, or an operator
// once it was reported.
func (a *API) conversation(r *http.Request) (int, any, error) {
	me := auth.From(r.Context())
	if me.Member == "" {
		return 0, nil, errs.E(errs.Unauthorized, "please log in")
	}
	c, err := a.store.ConversationHead(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if c.BackerID != me.Member && c.CreatorID != me.Member && !(c.Reported && me.Has(auth.RoleOperator)) {
		return 0, nil, errs.E(errs.NotFound, "no such conversation")
	}
	out, err := a.store.Conversation(r.Context(), c.ID, me.Member, a.now())
	return http.StatusOK, out, err
}

func (a *API) block(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	c, err := a.participant(r.Context(), r.PathValue("id"), me.Member)
	if err != nil {
		return 0, nil, err
	}
	other := c.CreatorID
	if me.Member == c.CreatorID {
		other = c.BackerID
	}
	_, err = a.store.db.ExecContext(r.Context(), `INSERT INTO blocks (member_id, blocked_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (member_id, blocked_id) DO NOTHING`, me.Member, other, store.TS(a.now()))
	return http.StatusOK, map[string]string{"status": "blocked"}, err
}

func (a *API) report(r *http.Request) (int, any, error) {
	me, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	c, err := a.participant(r.Context(), r.PathValue("id"), me.Member)
	if err != nil {
		return 0, nil, err
	}
	_, err = a.store.db.ExecContext(r.Context(), `UPDATE conversations SET reported_at = $1, report_reason = $2 WHERE id = $3`,
		store.TS(a.now()), excerpt(strings.TrimSpace(in.Reason), 500), c.ID)
	a.log.Info("conversation reported", "conversation", c.ID, "by", me.Member)
	return http.StatusOK, map[string]string{"status": "reported"}, err
}

// reported lists reported conversations for operators.
func (a *API) reported(r *http.Request) (int, any, error) {
	if _, err := auth.Operator(r.Context()); err != nil {
		return 0, nil, err
	}
	cs, err := a.store.conversationsWhere(r.Context(), `reported_at IS NOT NULL`, "")
	return http.StatusOK, cs, err
}

// OpenConversation finds or starts the conversation of a backer about a
// project.
func (s *Store) OpenConversation(ctx context.Context, project, title, backer, creator string, now time.Time) (notifyapi.Conversation, error) {
	_, err := s.db.ExecContext(ctx, `INSERT INTO conversations (id, project_id, project_title, backer_id, creator_id, created_at, last_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (project_id, backer_id) DO NOTHING`, store.NewID(), project, title, backer, creator, store.TS(now))
	if err != nil {
		return notifyapi.Conversation{}, err
	}
	var id string
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM conversations WHERE project_id = $1 AND backer_id = $2`, project, backer).Scan(&id); err != nil {
		return notifyapi.Conversation{}, err
	}
	return s.ConversationHead(ctx, id)
}

const conversationCols = `id, project_id, backer_id, creator_id, last_at, reported_at IS NOT NULL`

func scanConversation(row store.Row) (notifyapi.Conversation, error) {
	var c notifyapi.Conversation
	var last string
	err := row.Scan(&c.ID, &c.ProjectID, &c.BackerID, &c.CreatorID, &last, &c.Reported)
	c.LastAt = store.ParseTS(last)
	return c, err
}

// ConversationHead reads a conversation without its messages.
func (s *Store) ConversationHead(ctx context.Context, id string) (notifyapi.Conversation, error) {
	c, err := scanConversation(s.db.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = $1`, id))
	if isNoRows(err) {
		return c, errs.E(errs.NotFound, "no such conversation")
	}
	return c, err
}

// Conversations lists a member's conversations, latest first, with the
// messages the member has not read counted.
func (s *Store) Conversations(ctx context.Context, member string) ([]notifyapi.Conversation, error) {
	return s.conversationsWhere(ctx, `backer_id = $1 OR creator_id = $1`, member)
}

func (s *Store) conversationsWhere(ctx context.Context, where, member string) ([]notifyapi.Conversation, error) {
	q := `SELECT ` + conversationCols + `, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.sender_id <> $1
		AND m.created_at > COALESCE((SELECT read_at FROM conversation_reads r WHERE r.conversation_id = c.id AND r.member_id = $1), ''))
		FROM conversations c WHERE ` + where + ` ORDER BY last_at DESC LIMIT 200`
	rows, err := s.db.QueryContext(ctx, q, member)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []notifyapi.Conversation{}
	for rows.Next() {
		var c notifyapi.Conversation
		var last string
		if err := rows.Scan(&c.ID, &c.ProjectID, &c.BackerID, &c.CreatorID, &last, &c.Reported, &c.Unread); err != nil {
			return nil, err
		}
		c.LastAt = store.ParseTS(last)
		out = append(out, c)
	}
	return out, rows.Err()
}

// UnreadMessages counts the messages a member has not read.
func (s *Store) UnreadMessages(ctx context.Context, member string) (int, error) {
	cs, err := s.Conversations(ctx, member)
	n := 0
	for _, c := range cs {
		n += c.Unread
	}
	return n, err
}

// Conversation reads a conversation's messages, oldest first, and marks
// them read for reader.
func (s *Store) Conversation(ctx context.Context, id, reader string, now time.Time) (notifyapi.Conversation, error) {
	c, err := s.ConversationHead(ctx, id)
	if err != nil {
		return c, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, sender_id, body, created_at FROM messages WHERE conversation_id = $1 ORDER BY created_at, id`, id)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	c.Messages = []notifyapi.Message{}
	for rows.Next() {
		var m notifyapi.Message
		var at string
		if err := rows.Scan(&m.ID, &m.SenderID, &m.Body, &at); err != nil {
			return c, err
		}
		m.CreatedAt = store.ParseTS(at)
		c.Messages = append(c.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	if reader == c.BackerID || reader == c.CreatorID {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error { return markConversationRead(ctx, tx, id, reader, now) })
	}
	return c, err
}

func markConversationRead(ctx context.Context, tx *sql.Tx, id, member string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO conversation_reads (conversation_id, member_id, read_at) VALUES ($1, $2, $3)
		ON CONFLICT (conversation_id, member_id) DO UPDATE SET read_at = excluded.read_at`, id, member, store.TS(now))
	return err
}
