package release

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.yaml.in/yaml/v3"
)

// Repo is a checkout of the configuration repository; the gateway's weights
// live in its gateway.yaml (gateway.weights.SERVICE: {A: n, B: m}).
type Repo struct{ Dir string }

const weightsFile = "gateway.yaml"

// Weights reads the service's current weights (A 100, B 0 when none are set).
func (r Repo) Weights(service string) (a, b int, err error) {
	doc, err := r.read()
	if err != nil {
		return 0, 0, err
	}
	node := find(doc, "gateway", "weights", service)
	if node == nil {
		return 100, 0, nil
	}
	var w map[string]int
	if err := node.Decode(&w); err != nil {
		return 0, 0, fmt.Errorf("%s: gateway.weights.%s: %w", weightsFile, service, err)
	}
	return w["A"], w["B"], nil
}

// SetWeights writes the service's weights, keeping everything else in the
// file (comments included), and commits the change with message. It
// returns the commit's hash.
func (r Repo) SetWeights(service string, a, b int, message string, now time.Time) (string, error) {
	doc, err := r.read()
	if err != nil {
		return "", err
	}
	weights := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{
		scalar("A"), scalar(strconv.Itoa(a)), scalar("B"), scalar(strconv.Itoa(b))}}
	set(doc, weights, "gateway", "weights", service)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(r.Dir, weightsFile), out, 0o644); err != nil { // #nosec G306 -- configuration without secrets; the config center reads it
		return "", err
	}
	repo, err := git.PlainOpen(r.Dir)
	if err != nil {
		return "", fmt.Errorf("config repository %s: %w", r.Dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	if _, err := wt.Add(weightsFile); err != nil {
		return "", err
	}
	h, err := wt.Commit(message, &git.CommitOptions{Author: &object.Signature{Name: "sanshi release", Email: "release@sanshi.local", When: now}})
	if err != nil {
		return "", err
	}
	return h.String(), shareObjects(filepath.Join(r.Dir, ".git", "objects"))
}

// shareObjects makes the repository's objects readable by everyone, as
// git's own are: go-git writes each new object readable by its owner only,
// and the config center that reads this checkout (a container's user, a
// pod's) would fail on the commit.
func shareObjects(dir string) error {
	root, err := os.OpenRoot(dir) // changes stay inside the objects folder, whatever links it holds
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm()&0o044 == 0o044 {
			return err
		}
		return root.Chmod(path, info.Mode().Perm()|0o044) // #nosec G302 -- configuration without secrets, read by the config center's user
	})
}

func (r Repo) read() (*yaml.Node, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir, weightsFile)) // #nosec G304 -- the operator's config repository
	if errors.Is(err, os.ErrNotExist) {
		return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}, nil
	}
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", weightsFile, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	return &doc, nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// find follows mapping keys from the document's root.
func find(doc *yaml.Node, path ...string) *yaml.Node {
	n := doc.Content[0]
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// set puts value at the path, making (or replacing) the mappings on the way.
func set(doc *yaml.Node, value *yaml.Node, path ...string) {
	n := doc.Content[0]
	for i, key := range path {
		last := i == len(path)-1
		at := -1
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == key {
				at = j + 1
			}
		}
		next := value
		if !last {
			next = &yaml.Node{Kind: yaml.MappingNode}
			if at >= 0 && n.Content[at].Kind == yaml.MappingNode {
				next = n.Content[at]
			}
		}
		if at >= 0 {
			n.Content[at] = next
		} else {
			n.Content = append(n.Content, scalar(key), next)
		}
		n = next
	}
}
