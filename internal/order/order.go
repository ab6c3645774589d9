// Package order is the order service (订单): pledges with reward reservation,
// payment deadlines, cancellation, refunds, fulfilment and backer lists.
package order

import (
	"context"
	"embed"
	"io/fs"
	"net/http"

	"sanshi/internal/chassis/service"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Spec describes the order service to the chassis.
func Spec() service.Spec {
	sub, _ := fs.Sub(migrations, "migrations")
	return service.Spec{Name: "order", Migrations: sub, Build: build}
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}
