// Package project is the project service (众筹项目): projects, reward tiers,
// review, campaign lifecycle, funding totals, updates, comments, follows,
// categories and search.
package project

import (
	"context"
	"embed"
	"io/fs"
	"net/http"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/service"
	"sanshi/internal/chassis/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Category is a kind of project shown in navigation.
type Category struct {
	Slug   string `json:"slug"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// Spec describes the project service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "project", Migrations: sub, Build: build}
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	s := &Store{db: rt.DB}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/categories", func(w http.ResponseWriter, r *http.Request) {
		cats, err := s.Categories(r.Context())
		if err != nil {
			rt.Log.Error("list categories", "error", err)
			errs.Write(w, err)
			return
		}
		errs.WriteJSON(w, http.StatusOK, map[string]any{"categories": cats})
	})
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}

// Store is the project service's storage.
type Store struct{ db *store.DB }

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
