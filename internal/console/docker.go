package console

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sanshi/internal/chassis/errs"
)

// DockerPlatform drives the instances' containers through Docker Engine's
// API on its Unix socket: an instance is the container whose compose
// service (label com.docker.compose.service) is its instance id, within
// the compose project Project when one is named. The console needs the
// socket (mounted, and a group that may use it) to do this; see
// docs/console.md.
type DockerPlatform struct {
	Socket  string // e.g. /var/run/docker.sock
	Project string // compose project; "" for any
	http    *http.Client
}

// NewDockerPlatform talks to the Engine on socket.
func NewDockerPlatform(socket, project string) *DockerPlatform {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &DockerPlatform{Socket: socket, Project: project, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (d *DockerPlatform) Name() string { return "Docker" }

// Do restarts (stop timeout 15 s: the instance drains), stops or starts the
// instance's container.
func (d *DockerPlatform) Do(ctx context.Context, in InstanceState, action, _ string) error {
	id, err := d.container(ctx, in.ID)
	if err != nil {
		return err
	}
	path := "/containers/" + url.PathEscape(id) + "/" + action
	if action != ActionStart {
		path += "?t=15"
	}
	resp, err := d.call(ctx, http.MethodPost, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil
	case resp.StatusCode == http.StatusNotModified: // already stopped or started
		return errs.E(errs.WrongState, "the container of %s is already %s", in.ID, map[string]string{ActionStop: "stopped", ActionStart: "running"}[action])
	}
	return dockerError(resp)
}

// container finds the id of the instance's container.
func (d *DockerPlatform) container(ctx context.Context, instance string) (string, error) {
	labels := []string{"com.docker.compose.service=" + instance}
	if d.Project != "" {
		labels = append(labels, "com.docker.compose.project="+d.Project)
	}
	filters, _ := json.Marshal(map[string][]string{"label": labels})
	resp, err := d.call(ctx, http.MethodGet, "/containers/json?all=true&filters="+url.QueryEscape(string(filters)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", dockerError(resp)
	}
	var list []struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "", errs.E(errs.Unavailable, "Docker answered an unreadable container list: %v", err)
	}
	switch len(list) {
	case 0:
		return "", errs.E(errs.NotFound, "no container runs %s", instance)
	case 1:
		return list[0].ID, nil
	}
	return "", errs.E(errs.WrongState, "%d containers claim %s; name the compose project (console.docker.project)", len(list), instance)
}

func (d *DockerPlatform) call(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://docker"+path, nil) // #nosec G704 -- always the local Docker socket (the transport dials it); the host name is a placeholder
	if err != nil {
		return nil, errs.Wrap(err, "build a Docker request")
	}
	resp, err := d.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return nil, errs.E(errs.Unavailable, "Docker's socket %s did not answer: %v", d.Socket, err)
	}
	return resp, nil
}

func dockerError(resp *http.Response) error {
	var e struct{ Message string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &e) // Docker's errors are {"message": …}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
	}
	return errs.E(errs.Unavailable, "Docker answered %s: %s", resp.Status, e.Message)
}
