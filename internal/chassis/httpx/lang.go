package httpx

import "net/http"

// LangCookie remembers a visitor's language.
const LangCookie = "sanshi_lang"

// Lang picks the page language: ?lang= (remembered in a cookie), the
// cookie, or Simplified Chinese.
func Lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "zh-CN" {
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, Secure: Secure(r)}) // #nosec G124 -- a language choice, read by no script; Secure over TLS
		return l
	}
	if v, _ := Cookie(r, LangCookie); v == "en" || v == "zh-CN" {
		return v
	}
	return "zh-CN"
}
