package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
)

// Surveys: after a campaign succeeds its creator asks the backers what the
// rewards need (a size, a colour, a shipping address) until a lock date.

// Question kinds.
const (
	QuestionChoice  = "choice"
	QuestionText    = "text"
	QuestionAddress = "address"
)

// Question is one question of a survey.
type Question struct {
	Kind    string   `json:"kind"`
	Prompt  string   `json:"prompt"`
	Options []string `json:"options,omitempty"`
}

// Survey is a campaign's questions to its backers.
type Survey struct {
	ProjectID string     `json:"project_id"`
	Questions []Question `json:"questions"`
	LockAt    time.Time  `json:"lock_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// SurveyAnswer is one pledge's answers (one per question, in order; the
// address question's answer is the address itself).
type SurveyAnswer struct {
	OrderID    string    `json:"order_id"`
	Answers    []string  `json:"answers"`
	Address    *Address  `json:"address,omitempty"`
	AnsweredAt time.Time `json:"answered_at"`
}

// Check validates a new survey: 1–10 questions, a choice with 2–10
// options, a lock date from an hour to 180 days ahead.
func (s Survey) Check(now time.Time) error {
	f := map[string]string{}
	if len(s.Questions) == 0 || len(s.Questions) > 10 {
		f["questions"] = "from 1 to 10 questions"
	}
	addresses := 0
	for i, q := range s.Questions {
		key := "questions." + strconv.Itoa(i)
		switch {
		case q.Kind != QuestionChoice && q.Kind != QuestionText && q.Kind != QuestionAddress:
			f[key] = "kind is choice, text or address"
		case strings.TrimSpace(q.Prompt) == "" || utf8.RuneCountInString(q.Prompt) > 200:
			f[key] = "a prompt of 1 to 200 characters"
		case q.Kind == QuestionChoice && (len(q.Options) < 2 || len(q.Options) > 10):
			f[key] = "a choice has 2 to 10 options"
		}
		if q.Kind == QuestionAddress {
			addresses++
		}
	}
	if addresses > 1 {
		f["questions"] = "at most one address question"
	}
	if s.LockAt.Before(now.Add(time.Hour)) || s.LockAt.After(now.Add(180*24*time.Hour)) {
		f["lock_at"] = "from an hour to 180 days from now"
	}
	if len(f) > 0 {
		return errs.Fields(f)
	}
	return nil
}

// CheckAnswers validates a backer's answers to s.
func (s Survey) CheckAnswers(answers []string, addressID string, now time.Time) error {
	if !now.Before(s.LockAt) {
		return errs.E(errs.WrongState, "the survey is locked")
	}
	f := map[string]string{}
	if len(answers) != len(s.Questions) {
		f["answers"] = "one answer per question"
		return errs.Fields(f)
	}
	for i, q := range s.Questions {
		a := strings.TrimSpace(answers[i])
		switch q.Kind {
		case QuestionChoice:
			ok := false
			for _, o := range q.Options {
				ok = ok || o == a
			}
			if !ok {
				f["answers."+strconv.Itoa(i)] = "one of the options"
			}
		case QuestionText:
			if a == "" || utf8.RuneCountInString(a) > 1000 {
				f["answers."+strconv.Itoa(i)] = "1 to 1000 characters"
			}
		case QuestionAddress:
			if addressID == "" {
				f["address_id"] = "choose a shipping address"
			}
		}
	}
	if len(f) > 0 {
		return errs.Fields(f)
	}
	return nil
}

// createSurvey sends a succeeded campaign's survey to its backers (told in
// the same transaction that stores it).
func (a *API) createSurvey(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var s Survey
	if err := httpx.DecodeJSON(r, &s, maxJSON); err != nil {
		return 0, nil, err
	}
	if s.ProjectID == "" {
		return 0, nil, errs.Fields(map[string]string{"project_id": "required"})
	}
	p, err := a.projects.Get(r.Context(), s.ProjectID)
	if err != nil {
		return 0, nil, err
	}
	if p.CreatorID != id.Member {
		return 0, nil, errs.E(errs.Forbidden, "only the project's creator sends its survey")
	}
	if p.Status != "succeeded" {
		return 0, nil, errs.E(errs.WrongState, "a survey is sent once the campaign succeeded")
	}
	now := a.now()
	if err := s.Check(now); err != nil {
		return 0, nil, err
	}
	s.CreatedAt = now.UTC()
	qs, _ := json.Marshal(s.Questions)
	err = a.store.db.Tx(r.Context(), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(r.Context(), `INSERT INTO surveys (project_id, questions, lock_at, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (project_id) DO NOTHING`, s.ProjectID, string(qs), store.TS(s.LockAt), store.TS(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.Duplicate, "this campaign's survey was sent already")
		}
		return outbox.Enqueue(r.Context(), tx, notifyapi.EventMessage(notifyapi.Event{ID: s.ProjectID, Kind: notifyapi.KindSurvey, BackersOf: s.ProjectID,
			At: now, Data: map[string]string{"project_id": s.ProjectID, "project_title": p.Title, "lock_at": s.LockAt.UTC().Format(time.RFC3339)}}), now)
	})
	if err != nil {
		return 0, nil, err
	}
	a.kick()
	return http.StatusCreated, s, nil
}

// survey reads a campaign's survey: its creator also gets every answer.
func (a *API) survey(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	s, err := a.store.Survey(r.Context(), r.PathValue("project"))
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{"survey": s}
	if p, err := a.projects.Get(r.Context(), s.ProjectID); err == nil && p.CreatorID == id.Member {
		answers, err := a.store.SurveyAnswers(r.Context(), s.ProjectID)
		if err != nil {
			return 0, nil, err
		}
		out["answers"] = answers
	}
	return http.StatusOK, out, nil
}

// answerSurvey records a backer's answers for a pledge (again, until the
// lock date).
func (a *API) answerSurvey(r *http.Request) (int, any, error) {
	id, err := auth.Member(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Answers   []string `json:"answers"`
		AddressID string   `json:"address_id"`
	}
	if err := httpx.DecodeJSON(r, &in, maxJSON); err != nil {
		return 0, nil, err
	}
	o, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil || o.MemberID != id.Member {
		return 0, nil, errs.E(errs.NotFound, "no such order of yours")
	}
	if o.Status != Paid && o.Status != Shipped && o.Status != Received {
		return 0, nil, errs.E(errs.WrongState, "only a paid pledge answers its campaign's survey")
	}
	s, err := a.store.Survey(r.Context(), o.ProjectID)
	if err != nil {
		return 0, nil, err
	}
	now := a.now()
	if err := s.CheckAnswers(in.Answers, in.AddressID, now); err != nil {
		return 0, nil, err
	}
	ans := SurveyAnswer{OrderID: o.ID, Answers: in.Answers, AnsweredAt: now.UTC()}
	if in.AddressID != "" {
		addr, err := a.members.MyAddress(r.Context(), in.AddressID)
		if errs.CodeOf(err) == errs.NotFound {
			return 0, nil, errs.Fields(map[string]string{"address_id": "no such address of yours"})
		}
		if err != nil {
			return 0, nil, err
		}
		addr.ID = ""
		ans.Address = &addr
	}
	as, _ := json.Marshal(ans.Answers)
	var addr any
	if ans.Address != nil {
		b, _ := json.Marshal(ans.Address)
		addr = string(b)
	}
	_, err = a.store.db.ExecContext(r.Context(), `INSERT INTO survey_answers (order_id, project_id, answers, address, answered_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (order_id) DO UPDATE SET answers = excluded.answers, address = excluded.address, answered_at = excluded.answered_at`,
		o.ID, o.ProjectID, string(as), addr, store.TS(now))
	if err != nil {
		return 0, nil, errs.Wrap(err, "keep answers")
	}
	return http.StatusOK, ans, nil
}

// Survey reads a campaign's survey.
func (s *Store) Survey(ctx context.Context, projectID string) (Survey, error) {
	var sv Survey
	var qs, lock, created string
	err := s.db.QueryRowContext(ctx, `SELECT project_id, questions, lock_at, created_at FROM surveys WHERE project_id = $1`, projectID).
		Scan(&sv.ProjectID, &qs, &lock, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return sv, errs.E(errs.NotFound, "this campaign has no survey")
	}
	if err != nil {
		return sv, errs.Wrap(err, "read survey")
	}
	sv.LockAt, sv.CreatedAt = store.ParseTS(lock), store.ParseTS(created)
	return sv, json.Unmarshal([]byte(qs), &sv.Questions)
}

// SurveyAnswers reads every answer to a campaign's survey.
func (s *Store) SurveyAnswers(ctx context.Context, projectID string) ([]SurveyAnswer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT order_id, answers, address, answered_at FROM survey_answers WHERE project_id = $1`, projectID)
	if err != nil {
		return nil, errs.Wrap(err, "read answers")
	}
	defer rows.Close()
	out := []SurveyAnswer{}
	for rows.Next() {
		var a SurveyAnswer
		var as, at string
		var addr sql.NullString
		if err := rows.Scan(&a.OrderID, &as, &addr, &at); err != nil {
			return nil, err
		}
		a.AnsweredAt = store.ParseTS(at)
		_ = json.Unmarshal([]byte(as), &a.Answers)
		if addr.Valid {
			a.Address = &Address{}
			_ = json.Unmarshal([]byte(addr.String), a.Address)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
