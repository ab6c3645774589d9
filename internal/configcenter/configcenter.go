// Package configcenter is the config service (配置中心): configuration kept
// in a Git repository, synced atomically into the registry store and served
// to services.
package configcenter

import (
	"context"
	"net/http"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/service"
)

// Spec describes the config service to the chassis.
func Spec() service.Spec {
	return service.Spec{Name: "config", Build: build}
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		errs.WriteJSON(w, http.StatusOK, map[string]any{"service": "config", "profiles": rt.Boot.Profiles,
			"revision": rt.Props.Revision()})
	})
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}
