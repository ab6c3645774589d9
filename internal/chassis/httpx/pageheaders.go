package httpx

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
)

// NewNonce returns a fresh value for a CSP script nonce (128 bits).
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// PageHeaders sets the security headers of an HTML page (the site and the
// console): scripts only from this origin or carrying nonce (never
// 'unsafe-inline'), no framing, no referrer to other sites, no powerful
// browser features, no content sniffing. formAction lists where forms may
// post besides this origin (a payment provider's page).
func PageHeaders(h http.Header, nonce, formAction string) {
	script := "script-src 'self'"
	if nonce != "" {
		script += " 'nonce-" + nonce + "'"
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "+script+
		"; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"+formAction)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	h.Set("X-Content-Type-Options", "nosniff")
}

// WithPageHeaders sets PageHeaders (without a nonce) on every answer of h,
// redirects and errors included; a rendered page replaces the CSP with one
// carrying its nonce.
func WithPageHeaders(h http.Handler, formAction string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		PageHeaders(w.Header(), "", formAction)
		h.ServeHTTP(w, r)
	})
}
