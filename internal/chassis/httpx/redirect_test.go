package httpx

import "testing"

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
