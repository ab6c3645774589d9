package project

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
)

// Stretch goals and the FAQ: what a creator adds to a campaign besides its
// tiers.

// StretchGoal is an amount past the goal and what it unlocks.
type StretchGoal struct {
	ID          string `json:"id"`
	Amount      int64  `json:"amount"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Reached     bool   `json:"reached"`
}

// FAQItem is a question and its answer.
type FAQItem struct {
	ID       string `json:"id"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
	Position int    `json:"position"`
}

// MaxStretchGoals and MaxFAQ bound what a campaign carries.
const (
	MaxStretchGoals = 10
	MaxFAQ          = 30
)

// CheckStretchGoal validates a new stretch goal against its project: above
// the goal and every existing one's amount differs.
func CheckStretchGoal(p Project, g StretchGoal) error {
	f := map[string]string{}
	text(f, "title", g.Title, 1, 60)
	text(f, "description", g.Description, 0, 500)
	if g.Amount <= p.Goal || g.Amount > MaxMoney*10 {
		f["amount"] = "above the goal, in fen"
	}
	for _, o := range p.StretchGoals {
		if o.Amount == g.Amount {
			f["amount"] = "another stretch goal has this amount"
		}
	}
	if len(p.StretchGoals) >= MaxStretchGoals {
		f["amount"] = "at most 10 stretch goals"
	}
	if len(f) > 0 {
		return errs.Fields(f)
	}
	if p.Status != Draft && p.Status != Rejected && p.Status != InReview && p.Status != Live {
		return errs.E(errs.WrongState, "stretch goals can be added until the campaign ends")
	}
	return nil
}

func (s *Store) stretchGoals(ctx context.Context, q querier, projectID string) ([]StretchGoal, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, amount, title, description, reached_at IS NOT NULL FROM stretch_goals WHERE project_id = $1 ORDER BY amount`, projectID)
	if err != nil {
		return nil, errs.Wrap(err, "read stretch goals")
	}
	defer rows.Close()
	out := []StretchGoal{}
	for rows.Next() {
		var g StretchGoal
		if err := rows.Scan(&g.ID, &g.Amount, &g.Title, &g.Description, &g.Reached); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// nextStretchSQL sets a project's next_stretch to its smallest unreached
// stretch goal (0: none).
const nextStretchSQL = `UPDATE projects SET next_stretch = COALESCE((SELECT MIN(amount) FROM stretch_goals
	WHERE project_id = $1 AND reached_at IS NULL), 0) WHERE id = $1`

// AddStretchGoal stores a goal; one already passed counts as reached at
// once (and its backers are told).
func (s *Store) AddStretchGoal(ctx context.Context, p Project, g StretchGoal, now time.Time) (StretchGoal, error) {
	g.ID = store.NewID()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO stretch_goals (id, project_id, amount, title, description, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			g.ID, p.ID, g.Amount, g.Title, g.Description, store.TS(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, nextStretchSQL, p.ID); err != nil {
			return err
		}
		if p.Status == Live && p.Pledged >= g.Amount {
			g.Reached = true
			return s.reachStretchGoals(ctx, tx, p, p.Pledged, now)
		}
		return nil
	})
	return g, asErr(err, "add stretch goal")
}

// DeleteStretchGoal removes a goal not reached yet.
func (s *Store) DeleteStretchGoal(ctx context.Context, projectID, goalID string) error {
	return asErr(s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM stretch_goals WHERE id = $1 AND project_id = $2 AND reached_at IS NULL`, goalID, projectID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.WrongState, "no such stretch goal, or it was reached (a reached one stays)")
		}
		_, err = tx.ExecContext(ctx, nextStretchSQL, projectID)
		return err
	}), "delete stretch goal")
}

// reachStretchGoals marks the goals pledged has passed and tells the
// project's backers of each, in tx (the transaction that counted the
// pledges).
func (s *Store) reachStretchGoals(ctx context.Context, tx *sql.Tx, p Project, pledged int64, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `UPDATE stretch_goals SET reached_at = $1 WHERE project_id = $2 AND reached_at IS NULL AND amount <= $3
		RETURNING id, title, amount`, store.TS(now), p.ID, pledged)
	if err != nil {
		return err
	}
	var reached []StretchGoal
	for rows.Next() {
		var g StretchGoal
		if err := rows.Scan(&g.ID, &g.Title, &g.Amount); err != nil {
			_ = rows.Close()
			return err
		}
		reached = append(reached, g)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, g := range reached {
		if err := outbox.Enqueue(ctx, tx, notifyapi.EventMessage(notifyapi.Event{ID: g.ID, Kind: notifyapi.KindStretchGoalReached, BackersOf: p.ID,
			To: []string{p.CreatorID}, At: now, Data: map[string]string{"project_id": p.ID, "project_title": p.Title, "goal_title": g.Title,
				"amount": strconv.FormatInt(g.Amount, 10)}}), now); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, nextStretchSQL, p.ID)
	return err
}

func (s *Store) faq(ctx context.Context, q querier, projectID string) ([]FAQItem, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, question, answer, position FROM faq WHERE project_id = $1 ORDER BY position, created_at`, projectID)
	if err != nil {
		return nil, errs.Wrap(err, "read faq")
	}
	defer rows.Close()
	out := []FAQItem{}
	for rows.Next() {
		var f FAQItem
		if err := rows.Scan(&f.ID, &f.Question, &f.Answer, &f.Position); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// faqInput is a question as a creator sends it; a PATCH sends what changes.
type faqInput struct {
	Question *string `json:"question"`
	Answer   *string `json:"answer"`
	Position *int    `json:"position"`
}

func (in faqInput) check(creating bool) error {
	f := map[string]string{}
	if in.Question != nil || creating {
		text(f, "question", strings.TrimSpace(deref(in.Question)), 1, 200)
	}
	if in.Answer != nil || creating {
		text(f, "answer", strings.TrimSpace(deref(in.Answer)), 1, 2000)
	}
	if in.Position != nil && (*in.Position < 0 || *in.Position > 1000) {
		f["position"] = "from 0 to 1000"
	}
	return fieldErr(f)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// HTTP: stretch goals and the FAQ, the creator's to change.

func (a *API) addStretchGoal(r *http.Request) (int, any, error) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var g StretchGoal
	if err := httpx.DecodeJSON(r, &g, maxJSON); err != nil {
		return 0, nil, err
	}
	g.Title, g.Description = strings.TrimSpace(g.Title), strings.TrimSpace(g.Description)
	if g.ID != "" || g.Reached {
		return 0, nil, errs.Fields(map[string]string{"id": "set by the server"})
	}
	if err := CheckStretchGoal(p, g); err != nil {
		return 0, nil, err
	}
	g, err = a.store.AddStretchGoal(r.Context(), p, g, a.now())
	a.changed(r.Context(), p.ID)
	return http.StatusCreated, g, err
}

func (a *API) deleteStretchGoal(r *http.Request) (int, any, error) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	err = a.store.DeleteStretchGoal(r.Context(), p.ID, r.PathValue("gid"))
	a.changed(r.Context(), p.ID)
	return http.StatusNoContent, nil, err
}

func (a *API) listFAQ(r *http.Request) (int, any, error) {
	p, _, err := a.public(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"faq": p.FAQ}, nil
}

func (a *API) addFAQ(r *http.Request) (int, any, error) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var in faqInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	if err := in.check(true); err != nil {
		return 0, nil, err
	}
	if len(p.FAQ) >= MaxFAQ {
		return 0, nil, errs.E(errs.TooMany, "at most 30 questions")
	}
	pos := len(p.FAQ)
	if in.Position != nil {
		pos = *in.Position
	}
	item := FAQItem{ID: store.NewID(), Question: strings.TrimSpace(*in.Question), Answer: strings.TrimSpace(*in.Answer), Position: pos}
	_, err = a.store.db.ExecContext(r.Context(), `INSERT INTO faq (id, project_id, question, answer, position, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		item.ID, p.ID, item.Question, item.Answer, item.Position, store.TS(a.now()))
	a.changed(r.Context(), p.ID)
	return http.StatusCreated, item, asErr(err, "add question")
}

func (a *API) patchFAQ(r *http.Request) (int, any, error) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var in faqInput
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	if err := in.check(false); err != nil {
		return 0, nil, err
	}
	for _, f := range p.FAQ {
		if f.ID != r.PathValue("qid") {
			continue
		}
		if in.Question != nil {
			f.Question = strings.TrimSpace(*in.Question)
		}
		if in.Answer != nil {
			f.Answer = strings.TrimSpace(*in.Answer)
		}
		if in.Position != nil {
			f.Position = *in.Position
		}
		_, err := a.store.db.ExecContext(r.Context(), `UPDATE faq SET question = $1, answer = $2, position = $3 WHERE id = $4`, f.Question, f.Answer, f.Position, f.ID)
		a.changed(r.Context(), p.ID)
		return http.StatusOK, f, asErr(err, "change question")
	}
	return 0, nil, errs.E(errs.NotFound, "no such question")
}

func (a *API) deleteFAQ(r *http.Request) (int, any, error) {
	p, _, err := a.owned(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	res, err := a.store.db.ExecContext(r.Context(), `DELETE FROM faq WHERE id = $1 AND project_id = $2`, r.PathValue("qid"), p.ID)
	if err != nil {
		return 0, nil, errs.Wrap(err, "delete question")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, nil, errs.E(errs.NotFound, "no such question")
	}
	a.changed(r.Context(), p.ID)
	return http.StatusNoContent, nil, nil
}
