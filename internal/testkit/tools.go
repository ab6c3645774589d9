package testkit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// repoFile is a path in the repository, from its root.
func repoFile(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

// toolDir runs tools/NAME/build.sh (which builds a program the tests need
// from its Go module once per version) and returns the cache folder it
// prints; its progress goes to stderr.
func toolDir(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("bash", append([]string{repoFile("tools", name, "build.sh")}, args...)...) // #nosec G204 -- the repository's own build script
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tools/%s/build.sh: %v\n%s", name, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}
