package devrun

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// control is sanshi dev's supervisor interface: the console restarts,
// stops and starts instances through it, as it would through Docker's or
// Kubernetes' API elsewhere. It listens on loopback only and wants the
// management token.
type control struct {
	token string
	ctx   context.Context
	out   *printer

	mu       sync.Mutex
	children map[string]*child
}

// listenControl opens the supervisor's listener before the children start,
// so that they can be told where it is.
func listenControl() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func (c *control) add(ch *child) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.children[ch.id] = ch
}

func (c *control) serve(l net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/instances/{id}/{action}", c.act)
	srv := &http.Server{Handler: c.auth(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-c.ctx.Done(); _ = srv.Close() }()
	_ = srv.Serve(l) // ends with sanshi dev
}

func (c *control) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+c.token)) != 1 {
			answer(w, http.StatusUnauthorized, map[string]string{"error": "the management token is required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *control) act(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	ch := c.children[r.PathValue("id")]
	c.mu.Unlock()
	if ch == nil {
		answer(w, http.StatusNotFound, map[string]string{"error": "no such instance"})
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body) // the reason is optional
	if body.Reason == "" {
		body.Reason = "requested"
	}
	var err error
	switch r.PathValue("action") {
	case "restart":
		c.out.system("%s: restart (%s)", ch.id, body.Reason)
		err = ch.restart(body.Reason)
	case "stop":
		c.out.system("%s: stop (%s)", ch.id, body.Reason)
		if !ch.running() {
			err = errStopped
		} else {
			ch.signal(syscall.SIGTERM)
		}
	case "start":
		c.out.system("%s: start (%s)", ch.id, body.Reason)
		err = ch.resume(c.ctx, body.Reason)
	default:
		answer(w, http.StatusNotFound, map[string]string{"error": "actions are restart, stop and start"})
		return
	}
	if errors.Is(err, errStopped) || errors.Is(err, errRunning) {
		answer(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	answer(w, http.StatusAccepted, map[string]string{"accepted": r.PathValue("action")})
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
