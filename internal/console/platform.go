package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
)

// Platform is what runs the instances: the console restarts, stops and
// starts them through it. sanshi dev's supervisor is one (its control
// endpoint, SANSHI_SUPERVISOR_URL); Docker's Engine API and Kubernetes'
// API server are the others an operator would expect (see
// docs/console.md for what is built).
type Platform interface {
	// Name says what runs the instances, for the page.
	Name() string
	// Do restarts, stops or starts one instance, saying why.
	Do(ctx context.Context, in InstanceState, action, reason string) error
}

// Actions on a platform.
const (
	ActionRestart = "restart"
	ActionStop    = "stop"
	ActionStart   = "start"
)

// platformFrom picks the platform from the console's environment and
// configuration (config reads console.platform and console.docker.project);
// nil when nothing the console can drive runs the instances.
func platformFrom(getenv, config func(string) string, token string, log *slog.Logger) Platform {
	if u := getenv("SANSHI_SUPERVISOR_URL"); u != "" {
		return &supervisor{base: u, token: token, http: &http.Client{Timeout: 30 * time.Second}}
	}
	if config("console.platform") == "kubernetes" {
		k, err := kubernetesInCluster(getenv)
		if err != nil {
			log.Warn("restart and stop are off", "error", err)
			return nil
		}
		return k
	}
	if config("console.platform") == "docker" {
		socket := strings.TrimPrefix(getenv("DOCKER_HOST"), "unix://")
		if socket == "" {
			socket = "/var/run/docker.sock"
		}
		return NewDockerPlatform(socket, config("console.docker.project"))
	}
	return nil
}

// supervisor drives sanshi dev.
type supervisor struct {
	base, token string
	http        *http.Client
}

func (s *supervisor) Name() string { return "sanshi dev" }

func (s *supervisor) Do(ctx context.Context, in InstanceState, action, reason string) error {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/instances/"+url.PathEscape(in.ID)+"/"+action, bytes.NewReader(b)) // #nosec G704 -- the supervisor's loopback address sanshi dev gave this process; the instance id is path-escaped
	if err != nil {
		return errs.Wrap(err, "reach the supervisor")
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return errs.E(errs.Unavailable, "the supervisor (sanshi dev) did not answer: %v", err)
	}
	defer resp.Body.Close()
	var ans struct{ Error string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ans) // only the error message matters
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusConflict:
		return errs.E(errs.WrongState, "%s: %s", in.ID, ans.Error)
	case resp.StatusCode == http.StatusNotFound:
		return errs.E(errs.NotFound, "the supervisor does not run %s", in.ID)
	}
	return errs.E(errs.Unavailable, "the supervisor answered %s: %s", resp.Status, ans.Error)
}

// planned marks an instance's coming down and back as an operator's doing,
// so that the journal and the notifications say so.
func (m *Monitor) planned(service, id, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.states[service+"/"+id]; ok {
		st.plannedWhy, st.plannedUntil = why, m.now().Add(2*time.Minute)
	}
}

// plan returns the planned reason still in force for st ("" for none).
func (st *InstanceState) plan(now time.Time) string {
	if st.plannedWhy != "" && now.Before(st.plannedUntil) {
		return st.plannedWhy
	}
	return ""
}
