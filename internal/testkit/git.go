package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Git runs git in dir as a test author and returns its output; an error
// fails the test.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=sanshi-test", "-c", "user.email=test@sanshi.local"}, args...)...) // #nosec G204 -- git on the test's own repository
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return string(out)
}

// CommitFile writes a file into the repository at dir and commits it, as an
// operator changes the configuration. The file is readable by other users:
// a config center in a container reads it as its own user.
func CommitFile(t testing.TB, dir, file, content, message string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil { // #nosec G306 -- configuration without secrets, read by the config center's user
		t.Fatal(err)
	}
	Git(t, dir, "add", file)
	Git(t, dir, "commit", "-qm", message)
}
