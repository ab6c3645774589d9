package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoBackend answers each request with its method, path and body.
func echoBackend(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answer := fmt.Sprintf("%s %s %s", r.Method, r.URL.RequestURI(), body)
		// Stated, not chunked: the loop frames answers by their length.
		w.Header().Set("Content-Length", fmt.Sprint(len(answer)))
		_, _ = io.WriteString(w, answer)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// TestReferenceProxiesForwardEveryRequest checks that both yardsticks are
// proxies a benchmark may trust: every request reaches the backend and
// gets its own answer, over kept connections, concurrently, pipelined, with
// bodies and without, and they stop when told.
func TestReferenceProxiesForwardEveryRequest(t *testing.T) {
	backend := echoBackend(t)
	for _, kind := range []string{RefChassis, RefLoop} {
		t.Run(kind, func(t *testing.T) {
			addr, err := FreeAddr()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- ServeReference(ctx, kind, addr, backend) }()
			defer func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("ServeReference: %v", err)
					}
				case <-time.After(5 * time.Second):
					t.Error("the reference proxy did not stop")
				}
			}()
			if err := waitListening(addr, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 5 * time.Second}
			var wg sync.WaitGroup
			errc := make(chan error, 8)
			for g := range 8 {
				wg.Go(func() {
					for i := range 50 {
						if err := roundTrip(client, addr, g, i); err != nil {
							errc <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			pipelined(t, addr)
		})
	}
}

func roundTrip(client *http.Client, addr string, g, i int) error {
	path := fmt.Sprintf("/api/echo/%d/%d?q=%d", g, i, i)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	want := "GET " + path + " "
	if i%2 == 1 {
		body := strings.Repeat("x", i*100)
		req, _ = http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
		want = "POST " + path + " " + body
	}
	if i%7 == 3 {
		req, _ = http.NewRequest(http.MethodHead, "http://"+addr+path, nil)
		want = ""
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(got) != want {
		return fmt.Errorf("%s %s: %d %q (%v), want %q", req.Method, path, resp.StatusCode, got, err, want)
	}
	return nil
}

// pipelined sends two requests in one write and reads both answers, in
// order, on the same connection.
func pipelined(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for _, want := range []string{"GET /one ", "POST /two abc"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("pipelined answer %q: %v", want, err)
		}
		got, _ := io.ReadAll(resp.Body)
		if string(got) != want {
			t.Fatalf("pipelined answer %q, want %q", got, want)
		}
	}
}

func TestMessageSize(t *testing.T) {
	for _, c := range []struct {
		msg            string
		answer, noBody bool
		size           int
		ok             bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n", false, false, 0, true}, // head not all here
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, false, 27, true},
		{"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nab", false, false, 43, true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false, false, 0, false},
		{"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", false, false, 0, false},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", false, false, 0, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, false, 40, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", true, true, 38, true}, // to HEAD
		{"HTTP/1.1 204 No Content\r\n\r\n", true, false, 27, true},
		{"HTTP/1.1 200 OK\r\n\r\nto the close", true, false, 0, false},
		{strings.Repeat("x", 17<<10), false, false, 0, false},
	} {
		size, ok := messageSize([]byte(c.msg), c.answer, c.noBody)
		if size != c.size || ok != c.ok {
			t.Errorf("messageSize(%q) = %d, %v; want %d, %v", c.msg, size, ok, c.size, c.ok)
		}
	}
}
