package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"sanshi/internal/chassis/errs"
)

// Fail writes err in the error shape, logging internal errors with the
// request id (their cause never reaches the client).
func Fail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if e := errs.As(err); e.Code == errs.Internal {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", RequestID(r.Context()), "error", err)
	}
	errs.Write(w, err)
}

// Handler is an HTTP handler that returns its answer: a status with a value
// sent as JSON (nothing for 204), or an error sent in the error shape.
type Handler func(r *http.Request) (status int, body any, err error)

// ErrWritten is returned by a Handler that wrote its answer itself (a file, a
// CSV), so that JSON adds nothing.
var ErrWritten = errors.New("answer already written")

// JSON adapts h to net/http.
func JSON(log *slog.Logger, h Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := h(r)
		switch {
		case errors.Is(err, ErrWritten):
		case err != nil:
			Fail(log, w, r, err)
		case status == http.StatusNoContent:
			w.WriteHeader(status)
		default:
			errs.WriteJSON(w, status, body)
		}
	}
}

// DecodeJSON reads a JSON object body of at most max bytes into v. Bad
// input becomes a 400 (413 when too large) that names the field at fault.
func DecodeJSON(r *http.Request, v any, max int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return errs.Fields(map[string]string{"body": "expected one JSON object"})
		}
		return nil
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooLarge):
		return errs.E(errs.TooLarge, "request body is larger than %d bytes", max)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return errs.Fields(map[string]string{field: fmt.Sprintf("expected %s", jsonKind(typeErr.Type.Kind().String()))})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Fields(map[string]string{"body": "malformed JSON"})
	case errors.Is(err, io.EOF):
		return errs.Fields(map[string]string{"body": "a JSON object is required"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Fields(map[string]string{name: "unknown field"})
	}
	return errs.Fields(map[string]string{"body": "could not read JSON"})
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "a whole number"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "slice":
		return "a list"
	}
	return "an object"
}
