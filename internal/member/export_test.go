package member

import (
	"errors"

	"sanshi/internal/chassis/errs"
)

func fieldsOf(err error) map[string]string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
