package configcenter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Repo is the configuration repository: a local checkout read in place, or
// a remote one mirrored (bare) into the data folder and fetched.
type Repo struct {
	url, branch string
	local       bool
	auth        transport.AuthMethod
	repo        *git.Repository
}

// RepoSettings come from the environment.
type RepoSettings struct {
	URL, Branch, Username, Password, SSHKeyFile, MirrorDir string
}

// OpenRepo opens (or mirrors) the repository.
func OpenRepo(ctx context.Context, s RepoSettings) (*Repo, error) {
	r := &Repo{url: s.URL, branch: s.Branch}
	if !strings.Contains(s.URL, "://") && !strings.HasPrefix(s.URL, "git@") {
		repo, err := git.PlainOpen(s.URL)
		if err != nil {
			return nil, fmt.Errorf("SANSHI_CONFIG_REPO: %s is not a Git repository: %w", s.URL, err)
		}
		r.repo, r.local = repo, true
		return r, nil
	}
	switch {
	case s.SSHKeyFile != "":
		keys, err := gitssh.NewPublicKeysFromFile("git", s.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("SANSHI_CONFIG_REPO_SSH_KEY: %w", err)
		}
		r.auth = keys
	case s.Username != "" || s.Password != "":
		r.auth = &githttp.BasicAuth{Username: s.Username, Password: s.Password}
	}
	if repo, err := git.PlainOpen(s.MirrorDir); err == nil {
		r.repo = repo
		return r, r.Fetch(ctx)
	}
	_ = os.RemoveAll(s.MirrorDir) // cloned again below; a leftover is overwritten
	repo, err := git.PlainCloneContext(ctx, s.MirrorDir, true, &git.CloneOptions{URL: s.URL, Auth: r.auth,
		ReferenceName: plumbing.NewBranchReferenceName(s.Branch), SingleBranch: true})
	if err != nil {
		return nil, fmt.Errorf("SANSHI_CONFIG_REPO: cannot clone %s: %w", s.URL, err)
	}
	r.repo = repo
	return r, nil
}

// Fetch brings a mirrored repository up to date (a local one is read as is).
func (r *Repo) Fetch(ctx context.Context) error {
	if r.local {
		return nil
	}
	spec := gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/heads/%s", r.branch, r.branch))
	err := r.repo.FetchContext(ctx, &git.FetchOptions{Auth: r.auth, RefSpecs: []gitconfig.RefSpec{spec}, Force: true})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// Commit is the head of the configured branch with its files.
type Commit struct {
	Hash    string
	Message string
	Author  string
	When    time.Time
	Files   map[string][]byte // top-level configuration files
}

// Head reads the branch's last commit and its configuration files.
func (r *Repo) Head() (Commit, error) {
	ref, err := r.repo.Reference(plumbing.NewBranchReferenceName(r.branch), true)
	if err != nil {
		return Commit{}, fmt.Errorf("branch %s: %w", r.branch, err)
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return Commit{}, err
	}
	tree, err := c.Tree()
	if err != nil {
		return Commit{}, err
	}
	out := Commit{Hash: c.Hash.String(), Message: strings.TrimSpace(c.Message), Author: c.Author.Name, When: c.Author.When, Files: map[string][]byte{}}
	err = tree.Files().ForEach(func(f *object.File) error {
		if _, ok := sourceName(f.Name); !ok || f.Size > 1<<20 {
			return nil
		}
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		b, err := io.ReadAll(rd)
		out.Files[f.Name] = b
		return err
	})
	return out, err
}

// Seed creates a repository at dir with the given files committed on
// branch main, unless one is there already. It reports whether it created it.
func Seed(dir string, files map[string][]byte) (bool, error) {
	if _, err := git.PlainOpen(dir); err == nil {
		return false, nil
	}
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		return false, err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return false, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return false, err
		}
		if _, err := wt.Add(name); err != nil {
			return false, err
		}
	}
	_, err = wt.Commit("Default configuration from sanshi", &git.CommitOptions{
		Author: &object.Signature{Name: "sanshi dev", Email: "dev@sanshi.local", When: time.Now()}})
	return true, err
}
