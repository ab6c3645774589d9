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

// The codes every service answers with. They are the whole vocabulary: a
// code not listed here is a programming error (errs_test.go finds literals,
// and Status answers 500 for one).
const (
	Invalid      = "invalid"
	Unauthorized = "unauthorized"
	Forbidden    = "forbidden"
	NotFound     = "not_found"
	Conflict     = "conflict"
	SoldOut      = "sold_out"
	WrongState   = "wrong_state"
	Duplicate    = "duplicate"
	// TooMany is a limit a member reached (unpaid pledges, for example).
	TooMany     = "too_many"
	TooLarge    = "too_large"
	RateLimited = "rate_limited"
	Unavailable = "unavailable"
	Internal    = "internal"
)

var statusByCode = map[string]int{
	Invalid:      http.StatusBadRequest,
	Unauthorized: http.StatusUnauthorized,
	Forbidden:    http.StatusForbidden,
	NotFound:     http.StatusNotFound,
	Conflict:     http.StatusConflict,
	SoldOut:      http.StatusConflict,
	WrongState:   http.StatusConflict,
	Duplicate:    http.StatusConflict,
	TooMany:      http.StatusConflict,
	TooLarge:     http.StatusRequestEntityTooLarge,
	RateLimited:  http.StatusTooManyRequests,
	Unavailable:  http.StatusServiceUnavailable,
	Internal:     http.StatusInternalServerError,
}

// Known reports whether code is one of the codes above.
func Known(code string) bool {
	_, ok := statusByCode[code]
	return ok
}

// HeaderFault marks a 5xx answer that is not the answering instance's own
// failure: "upstream" means a service it called was unavailable, "shed" that
// the instance refused the request at once to protect itself. Callers
// judge instances by it (an upstream fault never opens the breaker of the
// instance that reported it), and the gateway strips it from client answers.
const HeaderFault = "X-Sanshi-Fault"

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
	// Upstream marks an unavailability that a called service caused, not
	// the instance answering (see HeaderFault).
	Upstream bool `json:"-"`
	// Shed marks a request refused at once to protect a healthy instance
	// (a full queue): the request may be retried, and the instance is not
	// to blame.
	Shed bool `json:"-"`
	// RequestID is sent with 5xx answers so that a member can quote it.
	RequestID string `json:"request_id,omitempty"`
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
		if e.Code == Internal && dependencyDown(e.Cause) {
			return storageDown(err)
		}
		return e
	}
	if dependencyDown(err) {
		return storageDown(err)
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
// body: the client sees only a generic message, and a 5xx carries the
// request id (from the response's X-Request-Id header) to quote.
func Write(w http.ResponseWriter, err error) {
	e := As(err)
	body := *e
	status := Status(e.Code)
	if e.Code == Internal || status == http.StatusInternalServerError {
		body.Message = "internal error"
	}
	if status >= 500 {
		body.RequestID = w.Header().Get("X-Request-Id")
	}
	switch {
	case e.Upstream && status >= 500:
		w.Header().Set(HeaderFault, "upstream")
	case e.Shed && status >= 500:
		w.Header().Set(HeaderFault, "shed")
	}
	if e.Code == RateLimited || e.Code == Unavailable {
		w.Header().Set("Retry-After", strconv.Itoa(max(e.RetryAfter, 1)))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

// WriteJSON sends v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
