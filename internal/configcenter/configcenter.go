// Package configcenter is the config service (配置中心): configuration kept
// in a Git repository, validated, synced atomically into the registry store
// (one etcd transaction per commit) and served Spring Cloud Config style.
package configcenter

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpx"
	"sanshi/internal/chassis/props"
	"sanshi/internal/chassis/service"
)

// Spec describes the config service; schemas lists what every service
// declares about its configuration.
func Spec(schemas func() []configstore.Schema) service.Spec {
	return service.Spec{Name: "config", Build: func(ctx context.Context, rt *service.Runtime) (http.Handler, error) {
		return build(ctx, rt, schemas())
	}}
}

// API serves the webhook and the read API.
type API struct {
	rt      *service.Runtime
	center  *Center
	secret  string
	cipher  *Cipher
	mgmtTok string
	// openReads lets anyone read the (masked) configuration: only on the
	// local platform of `sanshi dev` (profile dev).
	openReads bool
}

func build(ctx context.Context, rt *service.Runtime, schemas []configstore.Schema) (http.Handler, error) {
	get := rt.Boot.Getenv
	a := &API{rt: rt, secret: get("SANSHI_CONFIG_WEBHOOK_SECRET"), mgmtTok: rt.Boot.MgmtToken.Reveal(),
		openReads: slices.Contains(rt.Boot.Profiles, "dev")}
	if k := get("SANSHI_CONFIG_ENCRYPT_KEY"); k != "" {
		c, err := NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("SANSHI_CONFIG_ENCRYPT_KEY: %w", err)
		}
		a.cipher = c
	}
	poll := 30 * time.Second
	if v := get("SANSHI_CONFIG_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond {
			return nil, fmt.Errorf("SANSHI_CONFIG_POLL: expected a duration of at least 100ms such as 30s, got %q", v)
		}
		poll = d
	}
	if url := get("SANSHI_CONFIG_REPO"); url != "" {
		branch := get("SANSHI_CONFIG_BRANCH")
		if branch == "" {
			branch = "main"
		}
		repo, err := OpenRepo(ctx, RepoSettings{URL: url, Branch: branch, Username: get("SANSHI_CONFIG_REPO_USERNAME"),
			Password: get("SANSHI_CONFIG_REPO_PASSWORD"), SSHKeyFile: get("SANSHI_CONFIG_REPO_SSH_KEY"),
			MirrorDir: filepath.Join(rt.Boot.DataDir, "config-mirror")})
		if err != nil {
			return nil, err
		}
		a.center = &Center{cli: rt.Etcd, repo: repo, schemas: schemas, cipher: a.cipher, poll: poll, id: rt.Boot.InstanceID,
			log: rt.Logs.Logger("config.sync"), now: rt.Now, kick: make(chan struct{}, 1)}
		go a.center.Run(rt.Background())
	} else {
		rt.Log.Warn("SANSHI_CONFIG_REPO is not set: serving what the registry store holds, syncing nothing")
	}
	if a.secret == "" {
		rt.Log.Warn("SANSHI_CONFIG_WEBHOOK_SECRET is not set: every webhook will be refused (the poll still syncs)")
	}
	mux := http.NewServeMux()
	handle := func(p string, h httpx.Handler) { mux.HandleFunc(p, httpx.JSON(rt.Log, h)) }
	handle("POST /monitor", a.monitor)
	handle("GET /status", a.reader(a.status))
	handle("GET /history", a.reader(a.history))
	handle("POST /encrypt", a.encrypt)
	mux.HandleFunc("GET /{file}", a.file)
	handle("GET /{application}/{profile}", a.reader(a.environment))
	handle("GET /{application}/{profile}/{label}", a.reader(a.environment))
	mux.HandleFunc("/", service.NotFound)
	return mux, nil
}

// monitor takes push webhooks: GitLab (X-Gitlab-Token) and GitHub/Gitea
// (X-Hub-Signature-256, an HMAC of the body). No secret configured → all
// refused.
func (a *API) monitor(r *http.Request) (int, any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 5<<20))
	if err != nil {
		return 0, nil, errs.E(errs.TooLarge, "payload too large")
	}
	if !a.authentic(r, body) {
		return 0, nil, errs.E(errs.Unauthorized, "missing or wrong webhook secret")
	}
	var push struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(body, &push); err != nil {
		return 0, nil, errs.Fields(map[string]string{"body": "expected a JSON push event"})
	}
	if a.center == nil {
		return 0, nil, errs.E(errs.Unavailable, "no repository configured")
	}
	a.center.Kick(r.Context())
	return http.StatusAccepted, map[string]string{"status": "sync requested", "ref": push.Ref}, nil
}

func (a *API) authentic(r *http.Request, body []byte) bool {
	if a.secret == "" {
		return false
	}
	if tok := r.Header.Get("X-Gitlab-Token"); tok != "" {
		return subtle.ConstantTimeCompare([]byte(tok), []byte(a.secret)) == 1
	}
	sig, ok := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(a.secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func (a *API) status(r *http.Request) (int, any, error) {
	st := Status{}
	if resp, err := a.rt.Etcd.Get(r.Context(), statusKey); err == nil && len(resp.Kvs) == 1 {
		_ = json.Unmarshal(resp.Kvs[0].Value, &st) // a damaged record reads as empty
	}
	leading := a.center != nil && a.center.isLeader()
	return http.StatusOK, map[string]any{"status": st, "this_instance_leads": leading}, nil
}

func (a *API) history(r *http.Request) (int, any, error) {
	var hist []HistoryEntry
	if resp, err := a.rt.Etcd.Get(r.Context(), historyKey); err == nil && len(resp.Kvs) == 1 {
		_ = json.Unmarshal(resp.Kvs[0].Value, &hist) // a damaged record reads as empty
	}
	return http.StatusOK, map[string]any{"history": hist}, nil
}

// tokenOK reports whether the request carries the management token.
func (a *API) tokenOK(r *http.Request) bool {
	return auth.HasBearer(r, a.mgmtTok)
}

// reader guards a configuration read: the management token is required,
// except on the local platform (openReads). Values are masked either way.
func (a *API) reader(h httpx.Handler) httpx.Handler {
	return func(r *http.Request) (int, any, error) {
		if err := a.mayRead(r); err != nil {
			return 0, nil, err
		}
		return h(r)
	}
}

func (a *API) mayRead(r *http.Request) error {
	if !a.openReads && !a.tokenOK(r) {
		return errs.E(errs.Unauthorized, "reading configuration needs the management token (Authorization: Bearer <token>)")
	}
	return nil
}

// encrypt makes a {cipher} value to commit (management token required).
func (a *API) encrypt(r *http.Request) (int, any, error) {
	if !a.tokenOK(r) {
		return 0, nil, errs.E(errs.Unauthorized, "the management token is required")
	}
	if a.cipher == nil {
		return 0, nil, errs.E(errs.Unavailable, "SANSHI_CONFIG_ENCRYPT_KEY is not set")
	}
	b, _ := io.ReadAll(http.MaxBytesReader(nil, r.Body, 64<<10))
	return http.StatusOK, map[string]string{"value": a.cipher.Encrypt(string(b))}, nil
}

type propertySource struct {
	Name   string            `json:"name"`
	Source map[string]string `json:"source"`
}

// environment answers like Spring Cloud Config Server:
// {name, profiles, label, version, state, propertySources (highest first)}.
func (a *API) environment(r *http.Request) (int, any, error) {
	snap, err := configstore.Read(r.Context(), a.rt.Etcd)
	if err != nil {
		return 0, nil, errs.E(errs.Unavailable, "registry store not readable")
	}
	app, profiles := r.PathValue("application"), strings.Split(r.PathValue("profile"), ",")
	if label := r.PathValue("label"); label != "" && label != "main" && label != snap.Meta.Revision {
		return 0, nil, errs.E(errs.NotFound, "only the current revision is served")
	}
	names := configstore.SourceNames(app, profiles)
	var sources []propertySource
	for i := len(names) - 1; i >= 0; i-- {
		if vals, ok := snap.Sources[names[i]]; ok {
			sources = append(sources, propertySource{Name: "sanshi-config:" + names[i], Source: masked(vals, snap.Meta.SecretKeys)})
		}
	}
	return http.StatusOK, map[string]any{"name": app, "profiles": profiles, "label": "main", "version": snap.Meta.Revision,
		"state": nil, "propertySources": sources}, nil
}

// file answers GET /{application}-{profile}.yml with the merged
// configuration as YAML.
func (a *API) file(w http.ResponseWriter, r *http.Request) {
	if err := a.mayRead(r); err != nil {
		errs.Write(w, err)
		return
	}
	name := r.PathValue("file")
	base, ok := strings.CutSuffix(name, ".yml")
	if !ok {
		base, ok = strings.CutSuffix(name, ".yaml")
	}
	i := strings.LastIndexByte(base, '-')
	if !ok || i <= 0 {
		service.NotFound(w, r)
		return
	}
	snap, err := configstore.Read(r.Context(), a.rt.Etcd)
	if err != nil {
		errs.Write(w, errs.E(errs.Unavailable, "registry store not readable"))
		return
	}
	merged := masked(configstore.Merge(snap.Sources, base[:i], strings.Split(base[i+1:], ",")), snap.Meta.SecretKeys)
	w.Header().Set("Content-Type", "text/yaml; charset=utf-8")
	_ = yaml.NewEncoder(w).Encode(nest(merged)) // the client went away
}

func masked(vals map[string]string, secret []string) map[string]string {
	out := map[string]string{}
	for k, v := range vals {
		if contains(secret, k) {
			v = "******"
		}
		out[k] = props.MaskValue(k, v)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nest turns dotted keys back into nested maps for YAML output.
func nest(flat map[string]string) map[string]any {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]any{}
	for _, k := range keys {
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = flat[k]
	}
	return out
}
