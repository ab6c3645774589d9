package service

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestCollectorPaceUnlessTheEnvironmentSetsIt(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for _, c := range []struct {
		env     map[string]string
		percent int
		limit   int64
	}{
		{map[string]string{}, gcPercent, memoryLimit},
		{map[string]string{"GOGC": "150"}, 100, memoryLimit},                // the runtime read GOGC itself
		{map[string]string{"GOMEMLIMIT": "1GiB"}, gcPercent, math.MaxInt64}, // likewise
	} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		paceCollector(func(k string) string { return c.env[k] })
		if got := debug.SetGCPercent(100); got != c.percent {
			t.Errorf("%v: GC percent %d, want %d", c.env, got, c.percent)
		}
		if got := debug.SetMemoryLimit(-1); got != c.limit {
			t.Errorf("%v: memory limit %d, want %d", c.env, got, c.limit)
		}
	}
}
