package service

import "runtime/debug"

// A service's live heap is small (tens of MB) and most of what it allocates
// dies within a request, so at Go's default pace (GOGC=100: collect when the
// heap has doubled) a burst of pledges kept every service collecting. A
// service lets the heap grow to five times what is live before it
// collects, and a soft limit makes the collector work harder again as the
// heap nears it, well inside the 256 MiB the Kubernetes manifests give a
// service. GOGC and GOMEMLIMIT, when set, win as usual.
const (
	gcPercent   = 400
	memoryLimit = 192 << 20
)

// paceCollector sets the collector's pace unless the environment does.
func paceCollector(getenv func(string) string) {
	if getenv == nil {
		return
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
