// Package scripts holds the repository's scripts (tests, images, delivery);
// its test checks the pipeline that calls them.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type job struct {
	Stage       string
	Script      []string
	Environment struct{ Name string }
	Rules       []struct {
		If   string
		When string
	}
}

var condition = regexp.MustCompile(`^\$(\w+)(?: (==|=~) (?:"([^"]*)"|/(.*)/))?$`)

// matches evaluates the rule conditions the pipeline uses.
func matches(t *testing.T, cond string, vars map[string]string) bool {
	m := condition.FindStringSubmatch(strings.TrimSpace(cond))
	if m == nil {
		t.Fatalf("a rule this test cannot read: %q", cond)
	}
	v := vars[m[1]]
	switch m[2] {
	case "":
		return v != ""
	case "==":
		return v == m[3]
	default:
		return regexp.MustCompile(m[4]).MatchString(v)
	}
}

// pipeline says which jobs run on a pipeline, automatically or by hand.
func pipeline(t *testing.T, jobs map[string]job, vars map[string]string) (auto, manual map[string]job) {
	auto, manual = map[string]job{}, map[string]job{}
	for name, j := range jobs {
		for _, r := range j.Rules {
			if matches(t, r.If, vars) {
				if r.When == "manual" {
					manual[name] = j
				} else {
					auto[name] = j
				}
				break
			}
		}
	}
	return auto, manual
}

func envs(jobs map[string]job) []string {
	var out []string
	for _, j := range jobs {
		if j.Environment.Name != "" && !slices.Contains(out, j.Environment.Name) {
			out = append(out, j.Environment.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestPipelineFollowsTheBranchModel(t *testing.T) {
	b, err := os.ReadFile("../.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	jobs := map[string]job{}
	for name, node := range raw {
		if name == "stages" || name == "variables" || strings.HasPrefix(name, ".") {
			continue
		}
		var j job
		if err := node.Decode(&j); err != nil {
			t.Fatalf("job %s: %v", name, err)
		}
		jobs[name] = j
	}
	for _, tc := range []struct {
		what                 string
		vars                 map[string]string
		autoEnvs, manualEnvs []string
		mustRun, mustNotRun  []string
	}{
		{"merge request", map[string]string{"CI_PIPELINE_SOURCE": "merge_request_event"}, nil, nil, []string{"test"}, []string{"build"}},
		{"develop", map[string]string{"CI_COMMIT_BRANCH": "develop"}, []string{"develop"}, []string{"perf"}, []string{"test", "build", "deploy-develop"}, nil},
		{"release/1.4", map[string]string{"CI_COMMIT_BRANCH": "release/1.4"}, []string{"release"}, []string{"perf"}, []string{"build", "deploy-release", "qa-gate"}, nil},
		{"master", map[string]string{"CI_COMMIT_BRANCH": "master"}, []string{"staging"}, []string{"perf", "production-a", "production-b"}, []string{"build", "deploy-staging"}, []string{"test"}},
		{"hotfix/pay", map[string]string{"CI_COMMIT_BRANCH": "hotfix/pay"}, []string{"staging"}, []string{"perf"}, []string{"test", "build", "deploy-staging"}, nil},
		{"feature/x", map[string]string{"CI_COMMIT_BRANCH": "feature/x"}, nil, []string{"perf"}, nil, []string{"build", "test"}},
	} {
		auto, manual := pipeline(t, jobs, tc.vars)
		if got := envs(auto); strings.Join(got, ",") != strings.Join(tc.autoEnvs, ",") {
			t.Errorf("%s deploys %v by itself, want %v", tc.what, got, tc.autoEnvs)
		}
		if got := envs(manual); strings.Join(got, ",") != strings.Join(tc.manualEnvs, ",") {
			t.Errorf("%s offers %v by hand, want %v", tc.what, got, tc.manualEnvs)
		}
		for _, j := range tc.mustRun {
			if _, ok := auto[j]; !ok {
				t.Errorf("%s does not run %s", tc.what, j)
			}
		}
		for _, j := range tc.mustNotRun {
			if _, ok := auto[j]; ok {
				t.Errorf("%s runs %s", tc.what, j)
			}
		}
	}
	if _, ok := jobs["gray-release"]; !ok {
		t.Error("no gray-release job")
	}

	// Every script a job calls exists and answers --help.
	script := regexp.MustCompile(`scripts/[\w.-]+\.sh`)
	seen := map[string]bool{}
	for name, j := range jobs {
		if len(j.Script) == 0 {
			t.Errorf("job %s has no script", name)
		}
		for _, line := range j.Script {
			for _, s := range script.FindAllString(line, -1) {
				if seen[s] {
					continue
				}
				seen[s] = true
				out, err := exec.Command("bash", filepath.Join("..", s), "--help").CombinedOutput()
				if err != nil || len(out) == 0 {
					t.Errorf("job %s: %s --help: %v %s", name, s, err, out)
				}
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("scripts called: %v", seen)
	}
}
