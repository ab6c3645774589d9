package project

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/outbox"
	"sanshi/internal/chassis/store"
	"sanshi/internal/notify/notifyapi"
)

// Category is a kind of project shown in navigation.
type Category struct {
	Slug   string `json:"slug"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// Categories lists categories in navigation order.
func (s *Store) Categories(ctx context.Context) ([]Category, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT slug, name_zh, name_en FROM categories ORDER BY position`)
	if err != nil {
		return nil, errs.Wrap(err, "list categories")
	}
	defer rows.Close()
	var out []Category
	for rows.Next() {
		var c Category
		if err := rows.Scan(&c.Slug, &c.NameZH, &c.NameEN); err != nil {
			return nil, errs.Wrap(err, "read category")
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Sorts of a project list.
const (
	SortTrending = "trending"
	SortNewest   = "newest"
	SortEnding   = "ending"
	SortFunded   = "funded"
)

// PageSize is how many projects a list page holds.
const PageSize = 12

// ListQuery selects projects.
type ListQuery struct {
	Category string
	Q        string
	Sort     string
	Page     httpx.Page // Limit 0 means PageSize
	Statuses []Status
	Creator  string
	Featured bool
}

// List returns one page of projects (without rewards) and the total.
func (s *Store) List(ctx context.Context, q ListQuery, now time.Time) ([]Project, int, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + itoa(len(args))
	}
	var st []string
	for _, s := range q.Statuses {
		st = append(st, arg(string(s)))
	}
	where = append(where, "p.status IN ("+strings.Join(st, ", ")+")")
	if q.Category != "" {
		where = append(where, "p.category = "+arg(q.Category))
	}
	if q.Creator != "" {
		where = append(where, "p.creator_id = "+arg(q.Creator))
	}
	if q.Featured {
		where = append(where, "p.featured = 1")
	}
	if kw := strings.TrimSpace(q.Q); kw != "" {
		// Substring match works for Chinese text, which has no spaces
		// between words; LOWER makes English case-insensitive.
		pat := arg("%" + likeEscape(strings.ToLower(kw)) + "%")
		where = append(where, "(LOWER(p.title) LIKE "+pat+" ESCAPE '\\' OR LOWER(p.subtitle) LIKE "+pat+" ESCAPE '\\')")
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects p WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, errs.Wrap(err, "count projects")
	}
	order := "p.launched_at DESC, p.created_at DESC"
	join := ""
	switch q.Sort {
	case SortTrending:
		join = ` LEFT JOIN (SELECT project_id, COUNT(*) AS n FROM pledges WHERE added_at > ` + arg(store.TS(now.Add(-Day))) +
			` AND removed_at IS NULL GROUP BY project_id) t ON t.project_id = p.id`
		order = "COALESCE(t.n, 0) DESC, p.pledged DESC, p.id"
	case SortEnding:
		order = "CASE WHEN p.status = 'live' THEN 0 ELSE 1 END, p.deadline ASC, p.id"
	case SortFunded:
		order = "p.pledged DESC, p.id"
	}
	page := q.Page
	if page.Number < 1 || page.Limit < 1 {
		page = httpx.Page{Number: max(page.Number, 1), Limit: PageSize}
	}
	query := `SELECT ` + prefixed(projectCols) + ` FROM projects p` + join + ` WHERE ` + cond + ` ORDER BY ` + order +
		` LIMIT ` + itoa(page.Limit) + ` OFFSET ` + itoa(page.Offset())
	out, err := store.List(ctx, s.db, scanProject, query, args...)
	if err != nil {
		return nil, 0, errs.Wrap(err, "list projects")
	}
	return out, total, nil
}

func prefixed(cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = "p." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func itoa(n int) string { return strconv.Itoa(n) }

// Update is a creator's news post.
type Update struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Body        string    `json:"body,omitempty"`
	BodyHTML    string    `json:"body_html,omitempty"`
	BackersOnly bool      `json:"backers_only"`
	Locked      bool      `json:"locked"`
	CreatedAt   time.Time `json:"created_at"`
}

// AddUpdate stores an update and tells the project's backers (the
// notification service), in one transaction.
func (s *Store) AddUpdate(ctx context.Context, projectID string, u Update, now time.Time) (Update, error) {
	u.ID, u.CreatedAt = store.NewID(), now.UTC()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO updates (id, project_id, title, body, body_html, backers_only, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, projectID, u.Title, u.Body, u.BodyHTML, b2i(u.BackersOnly), store.TS(now)); err != nil {
			return err
		}
		// Only backers are told, so a backers-only update's text goes to
		// no one else.
		return outbox.Enqueue(ctx, tx, notifyapi.EventMessage(notifyapi.Event{ID: u.ID, Kind: notifyapi.KindProjectUpdate, BackersOf: projectID, At: now,
			Data: map[string]string{"project_id": projectID, "update_title": u.Title, "update_excerpt": excerpt(u.Body, 400)}}), now)
	})
	return u, asErr(err, "add update")
}

// excerpt is the first n characters of s.
func excerpt(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}

// Updates lists a project's updates, newest first.
func (s *Store) Updates(ctx context.Context, projectID string, page httpx.Page) ([]Update, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, title, body, body_html, backers_only, created_at FROM updates
		WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, projectID, page.Limit, page.Offset())
	if err != nil {
		return nil, errs.Wrap(err, "list updates")
	}
	defer rows.Close()
	out := []Update{}
	for rows.Next() {
		var u Update
		var bo int
		var created string
		if err := rows.Scan(&u.ID, &u.Title, &u.Body, &u.BodyHTML, &bo, &created); err != nil {
			return nil, errs.Wrap(err, "read update")
		}
		u.BackersOnly, u.CreatedAt = bo == 1, store.ParseTS(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// Comment is a member's comment on a project.
type Comment struct {
	ID        string    `json:"id"`
	MemberID  string    `json:"member_id"`
	ParentID  string    `json:"parent_id,omitempty"`
	Body      string    `json:"body"`
	ByCreator bool      `json:"by_creator"`
	CreatedAt time.Time `json:"created_at"`
}

// AddComment stores a comment; a reply's parent must be on the same project.
func (s *Store) AddComment(ctx context.Context, projectID string, c Comment, now time.Time) (Comment, error) {
	c.ID, c.CreatedAt = store.NewID(), now.UTC()
	var parent any
	var parentAuthor string
	if c.ParentID != "" {
		err := s.db.QueryRowContext(ctx, `SELECT member_id FROM comments WHERE id = $1 AND project_id = $2`, c.ParentID, projectID).Scan(&parentAuthor)
		if errors.Is(err, sql.ErrNoRows) {
			return c, errs.Fields(map[string]string{"parent_id": "no such comment on this project"})
		}
		if err != nil {
			return c, errs.Wrap(err, "read parent")
		}
		parent = c.ParentID
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO comments (id, project_id, member_id, parent_id, body, by_creator, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.ID, projectID, c.MemberID, parent, c.Body, b2i(c.ByCreator), store.TS(now)); err != nil {
			return err
		}
		if parentAuthor == "" || parentAuthor == c.MemberID {
			return nil
		}
		return outbox.Enqueue(ctx, tx, notifyapi.EventMessage(notifyapi.Event{ID: c.ID, Kind: notifyapi.KindCommentReply, To: []string{parentAuthor}, At: now,
			Data: map[string]string{"project_id": projectID, "from_id": c.MemberID, "excerpt": excerpt(c.Body, 300)}}), now)
	})
	return c, asErr(err, "add comment")
}

// Comments lists a project's comments, oldest first, one page of 50.
func (s *Store) Comments(ctx context.Context, projectID string, page httpx.Page) ([]Comment, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM comments WHERE project_id = $1`, projectID).Scan(&total); err != nil {
		return nil, 0, errs.Wrap(err, "count comments")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, member_id, parent_id, body, by_creator, created_at FROM comments
		WHERE project_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3`, projectID, page.Limit, page.Offset())
	if err != nil {
		return nil, 0, errs.Wrap(err, "list comments")
	}
	defer rows.Close()
	out := []Comment{}
	for rows.Next() {
		var c Comment
		var parent sql.NullString
		var bc int
		var created string
		if err := rows.Scan(&c.ID, &c.MemberID, &parent, &c.Body, &bc, &created); err != nil {
			return nil, 0, errs.Wrap(err, "read comment")
		}
		c.ParentID, c.ByCreator, c.CreatedAt = parent.String, bc == 1, store.ParseTS(created)
		out = append(out, c)
	}
	return out, total, rows.Err()
}

// Follow records that a member follows a project (idempotent).
func (s *Store) Follow(ctx context.Context, projectID, memberID string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO follows (project_id, member_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (project_id, member_id) DO NOTHING`, projectID, memberID, store.TS(now))
	return asErr(err, "follow")
}

// Unfollow removes a follow (idempotent).
func (s *Store) Unfollow(ctx context.Context, projectID, memberID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM follows WHERE project_id = $1 AND member_id = $2`, projectID, memberID)
	return asErr(err, "unfollow")
}

// Following reports whether a member follows a project.
func (s *Store) Following(ctx context.Context, projectID, memberID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM follows WHERE project_id = $1 AND member_id = $2`, projectID, memberID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return n > 0, err
}
