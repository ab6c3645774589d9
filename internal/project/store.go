package project

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/project/projectapi"
	"slices"
	"time"

	"sanshi/internal/chassis/batch"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
)

// Store is the project service's storage. Business decisions are made by
// the domain methods on Project; the store loads, locks and saves.
type Store struct {
	db           *store.DB
	reservations batch.Group[reserveReq, reserveRes]
	pledges      batch.Group[pledgeReq, pledgeRes]
	// Queued, when set, is called after a count of pledges that queued
	// outbox messages (a refusal, a stretch goal reached) is committed: most
	// counts queue none, and waking the outbox for them would be a claim
	// that finds nothing.
	Queued func()
}

// NewStore uses db.
func NewStore(db *store.DB) *Store {
	s := &Store{db: db}
	s.reservations.Run = s.reserveBatch
	s.pledges.Run = s.addPledges
	return s
}

type scanner = store.Row

const projectCols = `id, creator_id, status, title, subtitle, category, story, story_html, goal, duration_days, duration_seconds,
	pledged, backers, featured, cover, reject_reason, created_at, launched_at, deadline, settled_at, version, next_stretch`

func scanProject(row scanner) (Project, error) {
	var p Project
	var status, created string
	var launched, deadline, settled sql.NullString
	var featured int
	var seconds int64
	err := row.Scan(&p.ID, &p.CreatorID, &status, &p.Title, &p.Subtitle, &p.Category, &p.Story, &p.StoryHTML, &p.Goal,
		&p.DurationDays, &seconds, &p.Pledged, &p.Backers, &featured, &p.cover, &p.RejectReason, &created, &launched, &deadline, &settled, &p.version, &p.nextStretch)
	p.Status, p.Featured, p.CreatedAt = Status(status), featured == 1, store.ParseTS(created)
	p.LaunchedAt, p.Deadline, p.SettledAt = optTime(launched), optTime(deadline), optTime(settled)
	if seconds > 0 {
		p.setLength(time.Duration(seconds) * time.Second)
	} else { // a project from before lengths were kept in seconds
		p.setLength(time.Duration(p.DurationDays) * Day)
	}
	if p.cover != "" {
		p.CoverURL = "/api/v1/projects/" + p.ID + "/cover"
	}
	p.Rewards = []Reward{}
	return p, err
}

func optTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := store.ParseTS(s.String)
	return &t
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CategorySet returns the slugs of all categories.
func (s *Store) CategorySet(ctx context.Context) (map[string]bool, error) {
	cats, err := s.Categories(ctx)
	out := map[string]bool{}
	for _, c := range cats {
		out[c.Slug] = true
	}
	return out, err
}

// Create stores a new draft. The creator is granted the creator role
// through the outbox, in the same transaction.
func (s *Store) Create(ctx context.Context, creator string, in DraftInput, storyHTML string, now time.Time) (Project, error) {
	p := Project{ID: store.NewID(), CreatorID: creator, Status: Draft, CreatedAt: now.UTC()}
	_ = p.Edit(in) // a new draft: every field was validated before
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO projects (id, creator_id, status, title, subtitle, category, story, story_html,
			goal, duration_days, duration_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			p.ID, creator, string(Draft), p.Title, p.Subtitle, p.Category, p.Story, storyHTML, p.Goal, p.DurationDays,
			int64(p.Length/time.Second), store.TS(now))
		if err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, memberapi.GrantRoleMessage(creator, "creator"), now)
	})
	if err != nil {
		return p, errs.Wrap(err, "create project")
	}
	return s.Get(ctx, p.ID)
}

// Get reads a project with its rewards and follower count.
func (s *Store) Get(ctx context.Context, id string) (Project, error) {
	return s.get(ctx, s.db.DB, id, "")
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) get(ctx context.Context, q querier, id, lock string) (Project, error) {
	p, err := scanProject(q.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "no such project")
	}
	if err != nil {
		return p, errs.Wrap(err, "read project")
	}
	if p.Rewards, err = s.rewards(ctx, q, id); err != nil {
		return p, err
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM follows WHERE project_id = $1`, id).Scan(&p.Followers); err != nil {
		return p, errs.Wrap(err, "count followers")
	}
	if p.StretchGoals, err = s.stretchGoals(ctx, q, id); err != nil {
		return p, err
	}
	if p.FAQ, err = s.faq(ctx, q, id); err != nil {
		return p, err
	}
	return p, nil
}

const rewardCols = `id, title, description, price, stock_limit, reserved, ships, delivery_month, position, kind, alone, shipping`

func scanReward(row scanner) (Reward, error) { return scanRewardDeleted(row) }

// scanRewardDeleted scans a reward and, given extra, the columns selected
// after rewardCols.
func scanRewardDeleted(row scanner, extra ...any) (Reward, error) {
	var r Reward
	var limit sql.NullInt64
	var ships, alone int
	var shipping string
	err := row.Scan(append([]any{&r.ID, &r.Title, &r.Description, &r.Price, &limit, &r.Reserved, &ships, &r.DeliveryMonth, &r.Position, &r.Kind, &alone, &shipping}, extra...)...)
	if err == nil && shipping != "" {
		err = json.Unmarshal([]byte(shipping), &r.Shipping)
	}
	r.Alone = alone == 1
	if limit.Valid {
		l := int(limit.Int64)
		r.Limit = &l
	}
	r.Ships = ships == 1
	return r, err
}

func (s *Store) rewards(ctx context.Context, q querier, projectID string) ([]Reward, error) {
	out, err := store.List(ctx, q, scanReward, `SELECT `+rewardCols+` FROM rewards WHERE project_id = $1 AND deleted = 0 ORDER BY position, price, id`, projectID)
	if err != nil {
		return nil, errs.Wrap(err, "list rewards")
	}
	return out, nil
}

// Change loads a project under a lock, lets change decide (domain rules),
// and saves what it changed, with any outbox messages it returns, in one
// transaction.
func (s *Store) Change(ctx context.Context, id string, now time.Time, change func(p *Project) ([]outbox.Message, error)) (Project, error) {
	_, err := outbox.Change(ctx, s.db, now, func(tx *sql.Tx) (Project, error) {
		return s.get(ctx, tx, id, s.db.ForUpdate())
	}, change, func(tx *sql.Tx, p Project) error {
		res, err := tx.ExecContext(ctx, `UPDATE projects SET status = $1, title = $2, subtitle = $3, category = $4, story = $5,
			story_html = $6, goal = $7, duration_days = $8, featured = $9, cover = $10, reject_reason = $11, launched_at = $12,
			deadline = $13, settled_at = $14, duration_seconds = $15, version = version + 1 WHERE id = $16 AND version = $17`,
			string(p.Status), p.Title, p.Subtitle, p.Category, p.Story, p.StoryHTML, p.Goal, p.DurationDays, b2i(p.Featured),
			p.cover, p.RejectReason, store.OptTS(p.LaunchedAt), store.OptTS(p.Deadline), store.OptTS(p.SettledAt),
			int64(p.Length/time.Second), p.ID, p.version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.Conflict, "the project changed meanwhile; please try again")
		}
		return nil
	})
	if err != nil {
		return Project{}, asErr(err, "change project")
	}
	return s.Get(ctx, id)
}

// ChangeReward runs change on the project (locked) and then saves or
// creates the reward it returns; deleted removes it.
func (s *Store) ChangeReward(ctx context.Context, projectID, rewardID string, change func(p *Project, r *Reward) (deleted bool, err error)) (Reward, error) {
	var saved Reward
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		p, err := s.get(ctx, tx, projectID, s.db.ForUpdate())
		if err != nil {
			return err
		}
		r := Reward{ID: store.NewID()}
		if rewardID != "" {
			found := false
			for _, x := range p.Rewards {
				if x.ID == rewardID {
					r, found = x, true
				}
			}
			if !found {
				return errs.E(errs.NotFound, "no such reward in this project")
			}
		} else if len(p.Rewards) >= MaxRewards {
			return errs.E(errs.Conflict, "at most %d reward tiers", MaxRewards)
		}
		deleted, err := change(&p, &r)
		if err != nil {
			return err
		}
		var limit any
		if r.Limit != nil {
			limit = *r.Limit
		}
		if r.Kind == "" {
			r.Kind = projectapi.KindTier
		}
		shipping := ""
		if len(r.Shipping) > 0 {
			b, _ := json.Marshal(r.Shipping) // rows of a string and a number: cannot fail
			shipping = string(b)
		}
		switch {
		case deleted:
			_, err = tx.ExecContext(ctx, `UPDATE rewards SET deleted = 1 WHERE id = $1`, r.ID)
		case rewardID == "":
			_, err = tx.ExecContext(ctx, `INSERT INTO rewards (id, project_id, title, description, price, stock_limit, ships, delivery_month, position, kind, alone, shipping)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, r.ID, projectID, r.Title, r.Description, r.Price, limit, b2i(r.Ships), r.DeliveryMonth, r.Position, r.Kind, b2i(r.Alone), shipping)
		default:
			_, err = tx.ExecContext(ctx, `UPDATE rewards SET title = $1, description = $2, price = $3, stock_limit = $4, ships = $5,
				delivery_month = $6, position = $7, alone = $8, shipping = $9 WHERE id = $10`, r.Title, r.Description, r.Price, limit, b2i(r.Ships), r.DeliveryMonth, r.Position, b2i(r.Alone), shipping, r.ID)
		}
		saved = r
		return err
	})
	return saved, asErr(err, "change reward")
}

// lock reads a project's row (without rewards) and locks it for the
// transaction: everything that changes its rewards and totals takes this
// lock first, so their checks cannot race.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, projectID string) (Project, error) {
	p, err := scanProject(tx.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`+s.db.ForUpdate(), projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "no such project")
	}
	return p, err
}

// Release gives an order's unit back. Releasing twice, or before the
// reservation arrived, is harmless: a release remembered first makes a late
// reserve of the same order a no-op.
func (s *Store) Release(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
	var res Reservation
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		held, got, err := s.heldUnits(ctx, tx, orderID, true)
		if res = got; err != nil {
			return err
		}
		if res.State == "" {
			res.State = Released
			_, err = tx.ExecContext(ctx, `INSERT INTO reservations (order_id, project_id, reward_id, state, created_at, updated_at)
				VALUES ($1, '', '', $2, $3, $3) ON CONFLICT (order_id) DO NOTHING`, orderID, Released, store.TS(now))
			return err
		}
		if res.State == Released {
			return nil
		}
		// Every unit back (its tier's and its add-ons'), in id order as
		// Hold locks them.
		for _, id := range slices.Sorted(maps.Keys(held)) {
			if _, err := tx.ExecContext(ctx, `UPDATE rewards SET reserved = reserved - $1 WHERE id = $2`, held[id], id); err != nil {
				return err
			}
		}
		res.State = Released
		_, err = tx.ExecContext(ctx, `UPDATE reservations SET state = $1, updated_at = $2 WHERE order_id = $3`, Released, store.TS(now), orderID)
		return err
	})
	return res, asErr(err, "release")
}

// RemovePledge takes a refunded pledge out of the totals, once. The order
// service's messages can arrive out of order (the count waiting out a retry
// pause while the uncount goes straight through), so a removal that arrives
// first is remembered as an empty, removed pledge: the late count then finds
// the order already handled and changes nothing.
func (s *Store) RemovePledge(ctx context.Context, projectID, orderID string, now time.Time) (Project, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.lock(ctx, tx, projectID); err != nil {
			return err
		}
		var amount int64
		var memberID string
		var removed sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT amount, member_id, removed_at FROM pledges WHERE order_id = $1 AND project_id = $2`, orderID, projectID).
			Scan(&amount, &memberID, &removed)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, `INSERT INTO pledges (order_id, project_id, member_id, amount, added_at, removed_at)
				VALUES ($1, $2, '', 0, $3, $3) ON CONFLICT (order_id) DO NOTHING`, orderID, projectID, store.TS(now))
			return err
		}
		if err != nil || removed.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pledges SET removed_at = $1 WHERE order_id = $2`, store.TS(now), orderID); err != nil {
			return err
		}
		var left int // the member's other pledges still counted
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pledges WHERE project_id = $1 AND member_id = $2 AND removed_at IS NULL`,
			projectID, memberID).Scan(&left); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE projects SET pledged = pledged - $1, backers = backers - $2 WHERE id = $3`, amount, newPerson(left), projectID)
		return err
	})
	if err != nil {
		return Project{}, asErr(err, "remove pledge")
	}
	return s.Get(ctx, projectID)
}

// Totals is the project side of the books, for reconciliation.
func (s *Store) Totals(ctx context.Context) ([]map[string]any, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.id, p.pledged, p.backers, r.id, r.stock_limit, r.reserved
		FROM projects p LEFT JOIN rewards r ON r.project_id = p.id ORDER BY p.id`)
	if err != nil {
		return nil, errs.Wrap(err, "read totals")
	}
	defer rows.Close()
	out := []map[string]any{}
	var cur map[string]any
	for rows.Next() {
		var id string
		var pledged int64
		var backers int
		var rid sql.NullString
		var limit, reserved sql.NullInt64
		if err := rows.Scan(&id, &pledged, &backers, &rid, &limit, &reserved); err != nil {
			return nil, errs.Wrap(err, "read totals")
		}
		if cur == nil || cur["id"] != id {
			cur = map[string]any{"id": id, "pledged": pledged, "backers": backers, "rewards": []map[string]any{}}
			out = append(out, cur)
		}
		if rid.Valid {
			r := map[string]any{"id": rid.String, "reserved": reserved.Int64, "limit": nil}
			if limit.Valid {
				r["limit"] = limit.Int64
			}
			cur["rewards"] = append(cur["rewards"].([]map[string]any), r)
		}
	}
	return out, rows.Err()
}

// IsBacker reports whether a member has a counted pledge on a project.
func (s *Store) IsBacker(ctx context.Context, projectID, memberID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pledges WHERE project_id = $1 AND member_id = $2 AND removed_at IS NULL`, projectID, memberID).Scan(&n)
	return n > 0, err
}

// DueDeadlines lists live projects whose deadline is at or before now.
func (s *Store) DueDeadlines(ctx context.Context, now time.Time) ([]string, error) {
	return s.db.Strings(ctx, `SELECT id FROM projects WHERE status = $1 AND deadline <= $2 ORDER BY deadline LIMIT 100`, string(Live), store.TS(now))
}

// NextDeadline is the earliest deadline of a live project (zero if none).
func (s *Store) NextDeadline(ctx context.Context) (time.Time, error) {
	var d sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT MIN(deadline) FROM projects WHERE status = $1`, string(Live)).Scan(&d)
	if err != nil || !d.Valid {
		return time.Time{}, err
	}
	return store.ParseTS(d.String), nil
}

// asErr keeps domain errors and wraps everything else as internal.
func asErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.Wrap(err, "%s", what)
}

// newPerson is 1 when a member has no other counted pledge on the project
// (they become, or stop being, a backer), else 0.
func newPerson(otherPledges int) int {
	if otherPledges == 0 {
		return 1
	}
	return 0
}
