// Package errs holds the one error type every Sanshi service uses, and the one
// table that maps its codes to HTTP statuses.
package errs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Codes shared by every service. Services may add more specific conflict codes
// (for example "sold_out"); Status maps unknown codes by their class below.
const (
	Invalid      = "invalid"
	Unauthorized = "unauthorized"
	Forbidden    = "forbidden"
	NotFound     = "not_found"
	Conflict     = "conflict"
	TooLarge     = "too_large"
	RateLimited  = "rate_limited"
	Unavailable  = "unavailable"
	Internal     = "internal"
)

var statusByCode = map[string]int{
	Invalid:       http.StatusBadRequest,
	Unauthorized:  http.StatusUnauthorized,
	Forbidden:     http.StatusForbidden,
	NotFound:      http.StatusNotFound,
	Conflict:      http.StatusConflict,
	"sold_out":    http.StatusConflict,
	"wrong_state": http.StatusConflict,
	"duplicate":   http.StatusConflict,
	TooLarge:      http.StatusRequestEntityTooLarge,
	RateLimited:   http.StatusTooManyRequests,
	Unavailable:   http.StatusServiceUnavailable,
	Internal:      http.StatusInternalServerError,
}

// Error is a failure with a stable machine-readable code, a human message and,
// for invalid input, a message per field.
type Error struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// Cause is kept for logs and never sent to a client.
	Cause error `json:"-"`
	// RetryAfter, in seconds, is sent as the Retry-After header of a 429/503.
	RetryAfter int `json:"-"`
}

// E builds an Error with a code and a formatted message.
func E(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Fields builds an invalid-input error with one message per field.
func Fields(fields map[string]string) *Error {
	return &Error{Code: Invalid, Message: "some fields are invalid", Fields: fields}
}

// Wrap marks an unexpected failure as internal, keeping the cause for logs.
func Wrap(cause error, format string, args ...any) *Error {
	return &Error{Code: Internal, Message: fmt.Sprintf(format, args...), Cause: cause}
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Status is the HTTP status for a code.
func Status(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// As returns err as an *Error, turning anything else into an internal error.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(err, "internal error")
}

// CodeOf returns the code of err, or "" when err is nil.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	return As(err).Code
}

// Write sends err in the public error shape. Internal causes stay out of the
// body: the client sees only a generic message.
func Write(w http.ResponseWriter, err error) {
	e := As(err)
	body := *e
	if e.Code == Internal {
		body.Message = "internal error"
	}
	if e.Code == RateLimited || e.Code == Unavailable {
		w.Header().Set("Retry-After", strconv.Itoa(max(e.RetryAfter, 1)))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(Status(e.Code))
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

// WriteJSON sends v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
