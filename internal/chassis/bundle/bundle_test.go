package bundle_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/bundle"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/chassis/registry"
)

// A bundle's items reach the handler as requests of their own: the
// bundle's headers (the caller's identity), the item's key and trace; a
// queue stops at its first failure while other items run; a bad bundle is
// refused whole.
func TestABundleIsServedAsRequestsOfTheirOwn(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]http.Header{}
	h := bundle.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path] = r.Header
		mu.Unlock()
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusConflict)
		case "/broken":
			http.Error(w, "no", http.StatusInternalServerError)
		default:
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got %s", b)
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", srv.URL+bundle.Path, strings.NewReader(body))
		req.Header.Set("X-Sanshi-Identity", "signed")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	resp, body := post(`[{"key":"k1","method":"POST","path":"/a/1","traceparent":"` + tp + `","body":{"x":1}},
		{"key":"k2","method":"PUT","path":"/gone"},
		{"method":"POST","path":"/broken","queue":"q"},{"method":"POST","path":"/a/2","queue":"q"},{"method":"POST","path":"/a/3"}]`)
	want := `[{"status":200,"body":"got {\"x\":1}"},{"status":409},{"status":500,"body":"no\n"},{"status":0},{"status":200,"body":"got "}]` + "\n"
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if h := seen["POST /a/1"]; h.Get("Idempotency-Key") != "k1" || h.Get("X-Sanshi-Identity") != "signed" || h.Get("Traceparent") != tp {
		t.Fatalf("headers %v", h)
	}
	if _, ran := seen["POST /a/2"]; ran {
		t.Fatal("an item after its queue's failure ran")
	}
	for _, bad := range []string{`{}`, `[{"method":"CONNECT","path":"/a"}]`, `[{"method":"POST","path":"http://elsewhere/a"}]`,
		`[{"method":"POST","path":"` + bundle.Path + `"}]`, `[{"method":"POST","path":"a"}]`} {
		if resp, _ := post(bad); resp.StatusCode != 400 {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
}

type oneInstance string

func (a oneInstance) Instances(string) []registry.Instance {
	return []registry.Instance{{ID: "receiver-1", Address: string(a), Status: "UP"}}
}

// 200 concurrent calls made as the service travel in a few bundles, each
// caller answered its own answer (an error as an error); a call on behalf
// of a member goes alone; a receiver without bundles gets every call alone.
func TestConcurrentCallsTravelTogether(t *testing.T) {
	for _, bundles := range []bool{true, false} {
		t.Run(fmt.Sprintf("bundles=%v", bundles), func(t *testing.T) {
			var calls, served atomic.Int64
			var inner http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == bundle.Path {
					http.NotFound(w, r) // a version before bundles
					return
				}
				served.Add(1)
				time.Sleep(time.Millisecond)
				if strings.HasSuffix(r.URL.Path, "/7") {
					errs.Write(w, errs.E(errs.SoldOut, "sold out"))
					return
				}
				fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
			})
			h := inner
			if bundles {
				h = bundle.Handler(inner)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); h.ServeHTTP(w, r) }))
			defer srv.Close()
			tg := bundle.NewTogether(httpclient.New(oneInstance(strings.TrimPrefix(srv.URL, "http://")), time.Now))
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var out struct{ Path string }
					err := tg.JSON(context.Background(), "receiver", "POST", fmt.Sprintf("/r/%d", i), map[string]int{"i": i}, &out, nil)
					switch {
					case i == 7 && errs.CodeOf(err) != errs.SoldOut:
						t.Errorf("call 7: %v, want sold out", err)
					case i != 7 && (err != nil || out.Path != fmt.Sprintf("/r/%d", i)):
						t.Errorf("call %d: %v %q", i, err, out.Path)
					}
				}()
			}
			wg.Wait()
			member := auth.With(context.Background(), auth.Identity{Member: "m1"})
			before := calls.Load()
			if err := tg.JSON(member, "receiver", "POST", "/r/member", nil, nil, nil); err != nil || calls.Load() != before+1 {
				t.Fatalf("a member's call: %v", err)
			}
			if served.Load() != 201 {
				t.Fatalf("%d requests served, want 201", served.Load())
			}
			t.Logf("%d calls for 201 requests", calls.Load())
			if bundles && calls.Load() > 100 {
				t.Errorf("%d calls for 201 requests: not bundled", calls.Load())
			}
		})
	}
}
