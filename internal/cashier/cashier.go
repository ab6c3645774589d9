// Package cashier is the cashier service (收银台): payments across channels,
// signed provider notifications, refunds and reconciliation.
package cashier

import (
	"context"
	"embed"
	"io/fs"
	"net/http"

	"sanshi/internal/chassis/service"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the cashier service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "cashier", Migrations: sub, Build: build}
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}
