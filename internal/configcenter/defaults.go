package configcenter

import (
	"embed"
	"io/fs"
)

//go:embed defaults/*.yaml
var defaults embed.FS

// DefaultFiles is the configuration a new local config repository starts with.
func DefaultFiles() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(defaults, "defaults")
	for _, e := range entries {
		b, _ := fs.ReadFile(defaults, "defaults/"+e.Name())
		out[e.Name()] = b
	}
	return out
}
