//go:build tools

// Package tools pins Jaeger (github.com/jaegertracing/jaeger, Apache-2.0),
// the trace store and query API of the compose deployment and of the
// tracing tests: `go install` refuses its module (it has replace
// directives), so tools/jaeger/build.sh builds cmd/jaeger from this module.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
