package console

import (
	"context"
	"strconv"
	"time"

	"sanshi/internal/chassis/store"
)

// Event kinds in the journal.
const (
	KindRegistered    = "registered"
	KindDown          = "went_down"
	KindBack          = "came_back"
	KindStatus        = "status_changed"
	KindConfigApplied = "config_applied"
	KindOverride      = "override_set"
	KindAction        = "action"
	KindStillDown     = "still_down"
	KindRestarted     = "restarted" // a new process under the same instance id
	KindFlapping      = "flapping"  // restarted again and again
	KindNotified      = "notified"  // a notification went out (or failed to)
	KindTest          = "test"      // a test notification from the settings page
)

// Event is one line of the journal.
type Event struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Service  string    `json:"service"`
	Instance string    `json:"instance"`
	Kind     string    `json:"kind"`
	Detail   string    `json:"detail"`
	Actor    string    `json:"actor"`
}

// Journal stores events in the console's own database.
type Journal struct{ db *store.DB }

// Add records an event.
func (j *Journal) Add(ctx context.Context, e Event) error {
	_, err := j.db.ExecContext(ctx, `INSERT INTO events (id, at, service, instance, kind, detail, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		store.NewID(), store.TS(e.At), e.Service, e.Instance, e.Kind, e.Detail, e.Actor)
	return err
}

// Filter selects events.
type Filter struct {
	Service, Instance string
	Since             time.Time
	Limit             int
}

// List returns events, newest first.
func (j *Journal) List(ctx context.Context, f Filter) ([]Event, error) {
	q := `SELECT id, at, service, instance, kind, detail, actor FROM events WHERE at >= $1`
	args := []any{store.TS(f.Since)}
	if f.Service != "" {
		args = append(args, f.Service)
		q += ` AND service = $2`
	}
	if f.Instance != "" {
		args = append(args, f.Instance)
		q += ` AND instance = $` + strconv.Itoa(len(args))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ` + strconv.Itoa(f.Limit)
	rows, err := j.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at string
		if err := rows.Scan(&e.ID, &at, &e.Service, &e.Instance, &e.Kind, &e.Detail, &e.Actor); err != nil {
			return nil, err
		}
		e.At = store.ParseTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// MuteUntil returns the end of the notification mute (zero if none).
func (j *Journal) MuteUntil(ctx context.Context) time.Time {
	var v string
	// No row (never muted) and an unreadable one both mean not muted.
	_ = j.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'mute_until'`).Scan(&v)
	return store.ParseTS(v)
}

// Mute silences notifications until t (a deploy window).
func (j *Journal) Mute(ctx context.Context, t time.Time) error {
	_, err := j.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('mute_until', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, store.TS(t))
	return err
}
