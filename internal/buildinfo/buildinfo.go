// Package buildinfo holds the version stamped into the binary at build time:
//
//	go build -ldflags "-X sanshi/internal/buildinfo.Version=v1.2.3 -X sanshi/internal/buildinfo.Commit=abc -X sanshi/internal/buildinfo.Time=2026-11-27T08:00:00Z"
package buildinfo

import "runtime/debug"

// Set at build time; "dev" otherwise.
var (
	Version = "dev"
	Commit  = "dev"
	Time    = "dev"
)

// CommitOrVCS returns Commit, or the VCS revision Go recorded when the binary
// was built from a checkout.
func CommitOrVCS() string {
	if Commit != "dev" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return Commit
}
