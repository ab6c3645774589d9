// Package mgmt serves the management endpoints (/actuator/...) of every
// service on its management address. Reads are open; every change needs the
// management token.
package mgmt

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/env"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/logging"
	"sanshi/internal/chassis/props"
)

// Health states.
const (
	Up   = "UP"
	Down = "DOWN"
)

// Component is the health of one dependency.
type Component struct {
	Status  string         `json:"status"`
	Details map[string]any `json:"details,omitempty"`
}

// Check reports the health of one dependency.
type Check func(ctx context.Context) Component

// Server holds what the endpoints show and change.
type Server struct {
	Token env.Secret
	Boot  env.Bootstrap
	Logs  *logging.Logs
	Props *props.Props
	// Check refuses a runtime override the service would not understand
	// (unknown key, wrong type, out of range).
	Check     func(key, value string) error
	Gatherer  prometheus.Gatherer
	Info      func() map[string]any
	Checks    map[string]Check // health components, e.g. database, registry
	Readiness func() Component // accepting traffic and registered
	Refresh   func(ctx context.Context) (any, error)
	// SetStatus takes the instance out of service (OUT_OF_SERVICE) or puts
	// it back (UP) in the registry.
	SetStatus func(status string)
	// Changed is told about every accepted change, for the audit log.
	Audit *slog.Logger
}

// Handler routes /actuator/...
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /actuator", s.index)
	mux.HandleFunc("GET /actuator/health", s.health)
	mux.HandleFunc("GET /actuator/health/liveness", s.liveness)
	mux.HandleFunc("GET /actuator/health/readiness", s.readiness)
	mux.HandleFunc("GET /actuator/info", s.info)
	mux.HandleFunc("GET /actuator/env", s.guard(s.env))
	mux.HandleFunc("POST /actuator/env", s.guard(s.setEnv))
	mux.HandleFunc("DELETE /actuator/env/{name}", s.guard(s.clearEnv))
	mux.HandleFunc("GET /actuator/loggers", s.guard(s.loggers))
	mux.HandleFunc("GET /actuator/loggers/{name}", s.guard(s.logger))
	mux.HandleFunc("POST /actuator/loggers/{name}", s.guard(s.setLogger))
	mux.HandleFunc("GET /actuator/logfile", s.guard(s.logfile))
	mux.Handle("GET /actuator/prometheus", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /actuator/refresh", s.guard(s.refresh))
	mux.HandleFunc("POST /actuator/service-registry", s.guard(s.serviceRegistry))
	// Profiles for engineers, on the management address only.
	mux.HandleFunc("GET /debug/pprof/", s.guard(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/profile", s.guard(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/trace", s.guard(pprof.Trace))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errs.Write(w, errs.E(errs.NotFound, "no management endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// guard lets a request through only with the management token: every change,
// and every read but health, info and prometheus (the environment, loggers,
// log lines and profiles tell an attacker too much). With no token
// configured they are all refused.
func (s *Server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.Token.Set() {
			errs.Write(w, errs.E(errs.Unauthorized, "these management endpoints are disabled: SANSHI_MGMT_TOKEN is not set"))
			return
		}
		if !auth.HasBearer(r, s.Token.Reveal()) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sanshi-management"`)
			errs.Write(w, errs.E(errs.Unauthorized, "a valid management token is required (Authorization: Bearer <token>)"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next(w, r)
	}
}

func (s *Server) audit(r *http.Request, action string, attrs ...any) {
	if s.Audit != nil {
		s.Audit.Info("management change", append([]any{"action", action, "remote", r.RemoteAddr}, attrs...)...)
	}
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	links := map[string]string{}
	for _, p := range []string{"health", "health/liveness", "health/readiness", "info", "env", "loggers", "logfile", "prometheus", "refresh"} {
		links[p] = "/actuator/" + p
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"links": links})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	comps := map[string]Component{}
	status := Up
	for name, check := range s.Checks {
		c := check(ctx)
		comps[name] = c
		if c.Status != Up {
			status = Down
		}
	}
	ready := s.Readiness()
	comps["readiness"] = ready
	if ready.Status != Up {
		status = Down
	}
	code := http.StatusOK
	if status != Up {
		code = http.StatusServiceUnavailable
	}
	errs.WriteJSON(w, code, map[string]any{"status": status, "components": comps})
}

func (s *Server) liveness(w http.ResponseWriter, r *http.Request) {
	errs.WriteJSON(w, http.StatusOK, Component{Status: Up})
}

func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	c := s.Readiness()
	code := http.StatusOK
	if c.Status != Up {
		code = http.StatusServiceUnavailable
	}
	errs.WriteJSON(w, code, c)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	errs.WriteJSON(w, http.StatusOK, s.Info())
}

func (s *Server) env(w http.ResponseWriter, r *http.Request) {
	errs.WriteJSON(w, http.StatusOK, map[string]any{
		"bootstrap":       s.Boot, // Secret fields marshal masked
		"activeProfiles":  s.Boot.Profiles,
		"configRevision":  s.Props.Revision(),
		"propertySources": s.Props.Sources(),
		"effective":       s.Props.Effective(),
	})
}

type envChange struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (s *Server) setEnv(w http.ResponseWriter, r *http.Request) {
	var c envChange
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		errs.Write(w, errs.Fields(map[string]string{"body": "expected JSON {\"name\": ..., \"value\": ...}"}))
		return
	}
	if strings.TrimSpace(c.Name) == "" {
		errs.Write(w, errs.Fields(map[string]string{"name": "required"}))
		return
	}
	if s.Check != nil {
		if err := s.Check(c.Name, c.Value); err != nil {
			field := "value"
			if strings.Contains(err.Error(), "no configuration key") {
				field = "name"
			}
			errs.Write(w, errs.Fields(map[string]string{field: err.Error()}))
			return
		}
	}
	old, _ := s.Props.Get(c.Name)
	s.Props.Override(c.Name, c.Value)
	s.audit(r, "env.override", "name", c.Name, "old", props.MaskValue(c.Name, old), "value", props.MaskValue(c.Name, c.Value))
	errs.WriteJSON(w, http.StatusOK, map[string]any{"name": c.Name, "old": props.MaskValue(c.Name, old), "value": props.MaskValue(c.Name, c.Value),
		"warning": "runtime override: lost on restart unless committed to the config repository"})
}

func (s *Server) clearEnv(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.Props.ClearOverride(name) {
		errs.Write(w, errs.E(errs.NotFound, "no runtime override for %q", name))
		return
	}
	s.audit(r, "env.clear", "name", name)
	w.WriteHeader(http.StatusNoContent)
}

type loggerView struct {
	ConfiguredLevel *string `json:"configuredLevel"`
	EffectiveLevel  string  `json:"effectiveLevel"`
}

func (s *Server) view(name string) loggerView {
	v := loggerView{EffectiveLevel: s.Logs.Effective(name).String()}
	if l, ok := s.Logs.Configured(name); ok {
		str := l.String()
		v.ConfiguredLevel = &str
	}
	return v
}

func (s *Server) loggers(w http.ResponseWriter, r *http.Request) {
	out := map[string]loggerView{}
	for _, n := range s.Logs.Known() {
		out[n] = s.view(n)
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"levels": []string{"DEBUG", "INFO", "WARN", "ERROR"}, "loggers": out})
}

func (s *Server) logger(w http.ResponseWriter, r *http.Request) {
	errs.WriteJSON(w, http.StatusOK, s.view(r.PathValue("name")))
}

func (s *Server) setLogger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body struct {
		ConfiguredLevel *string `json:"configuredLevel"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		errs.Write(w, errs.Fields(map[string]string{"configuredLevel": "expected JSON {\"configuredLevel\": \"DEBUG\"}"}))
		return
	}
	var level *slog.Level
	if body.ConfiguredLevel != nil && *body.ConfiguredLevel != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*body.ConfiguredLevel)); err != nil {
			errs.Write(w, errs.Fields(map[string]string{"configuredLevel": "one of DEBUG, INFO, WARN, ERROR"}))
			return
		}
		level = &l
	} else if name == logging.Root {
		errs.Write(w, errs.Fields(map[string]string{"configuredLevel": "the root logger needs a level"}))
		return
	}
	s.Logs.SetLevel(name, level)
	s.audit(r, "loggers.set", "target", name, "level", s.Logs.Effective(name).String())
	errs.WriteJSON(w, http.StatusOK, s.view(name))
}

// logfile returns the lines after ?cursor=N (0 = from the oldest kept), at
// most ?max=N (default 500), and the cursor for the next call.
func (s *Server) logfile(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cursor, err := strconv.ParseUint(q.Get("cursor"), 10, 64)
	if q.Get("cursor") != "" && err != nil {
		errs.Write(w, errs.Fields(map[string]string{"cursor": "a whole number from an earlier answer"}))
		return
	}
	max := 500
	if q.Get("max") != "" {
		if m, err := strconv.Atoi(q.Get("max")); err == nil && m > 0 && m <= 5000 {
			max = m
		} else {
			errs.Write(w, errs.Fields(map[string]string{"max": "a whole number from 1 to 5000"}))
			return
		}
	}
	lines, next, missed := s.Logs.Ring.Since(cursor, max)
	if q.Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Log-Cursor", strconv.FormatUint(next, 10))
		for _, l := range lines {
			_, _ = w.Write([]byte(l.Text + "\n"))
		}
		return
	}
	entries := make([]json.RawMessage, 0, len(lines))
	for _, l := range lines {
		entries = append(entries, json.RawMessage(l.Text))
	}
	errs.WriteJSON(w, http.StatusOK, map[string]any{"cursor": next, "missed": missed, "lines": entries})
}

// serviceRegistry sets the instance's status in the registry: callers stop
// sending new requests to an OUT_OF_SERVICE instance, which drains.
func (s *Server) serviceRegistry(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || (body.Status != "UP" && body.Status != "OUT_OF_SERVICE") {
		errs.Write(w, errs.Fields(map[string]string{"status": "UP or OUT_OF_SERVICE"}))
		return
	}
	s.SetStatus(body.Status)
	s.audit(r, "service-registry", "status", body.Status)
	errs.WriteJSON(w, http.StatusOK, map[string]string{"status": body.Status})
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	if s.Refresh == nil {
		errs.WriteJSON(w, http.StatusOK, map[string]any{"changed": []string{}})
		return
	}
	res, err := s.Refresh(r.Context())
	if err != nil {
		errs.Write(w, err)
		return
	}
	s.audit(r, "refresh")
	errs.WriteJSON(w, http.StatusOK, res)
}
