// Package member is the member service (会员): accounts, sign-up, login,
// sessions, roles, profiles and shipping addresses.
package member

import (
	"context"
	"embed"
	"io/fs"
	"net/http"

	"sanshi/internal/chassis/service"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the member service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "member", Migrations: sub, Build: build}
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}
