package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/projects/1":          "/projects/1",
		"/me/pledges?x=1#a":    "/me/pledges?x=1#a",
		"/":                    "/",
		"":                     "/home",
		"//evil.example/":      "/home",
		"/\\evil.example/":     "/home",
		"/\\/evil.example/":    "/home",
		"/a\\b":                "/home",
		"/\t/evil.example":     "/home",
		"/\n/evil.example":     "/home",
		"/ /evil.example":      "/home",
		"https://evil.example": "/home",
		"javascript:alert(1)":  "/home",
		"evil.example":         "/home",
		"/x\x00":               "/home",
		"/a:b":                 "/a:b",
	} {
		if got := LocalPath(in, "/home"); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoggedPathHidesTradeNumbers(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc("GET /api/v1/payments/sandbox/{trade}", func(w http.ResponseWriter, r *http.Request) { got = loggedPath(r) })
	mux.HandleFunc("GET /api/v1/orders/{id}", func(w http.ResponseWriter, r *http.Request) { got = loggedPath(r) })
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/payments/sandbox/SB123secret", nil))
	if got != "/api/v1/payments/sandbox/{trade}" {
		t.Fatalf("trade number logged: %s", got)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { got = loggedPath(r) }) // the gateway's prefix route
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/payments/sandbox/SB123secret", nil))
	if got != "/api/v1/payments/sandbox/{trade}" {
		t.Fatalf("trade number logged by the gateway: %s", got)
	}
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/orders/o1", nil))
	if got != "/api/v1/orders/o1" {
		t.Fatalf("ordinary path: %s", got)
	}
}
