// Package console is the service console (服务控制台): every service and
// instance at a glance for operators.
package console

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"sort"
	"time"

	"sanshi/internal/chassis/registry"
	"sanshi/internal/chassis/service"
)

//go:embed templates/*.html
var templates embed.FS

var pages = template.Must(template.ParseFS(templates, "templates/*.html"))

// Spec describes the console to the chassis.
func Spec() service.Spec {
	return service.Spec{Name: "console", Build: build}
}

// serviceRow is one service on the overview.
type serviceRow struct {
	Name      string
	Instances []registry.Instance
}

func build(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var rows []serviceRow
		for name, ins := range rt.Discovery.All() {
			rows = append(rows, serviceRow{Name: name, Instances: ins})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := pages.ExecuteTemplate(w, "overview.html", map[string]any{"Services": rows, "Now": rt.Now().UTC().Format(time.RFC3339)}); err != nil {
			rt.Log.Error("render overview", "error", err)
		}
	})
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}
