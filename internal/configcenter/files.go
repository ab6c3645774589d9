package configcenter

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"sanshi/internal/chassis/configstore"
)

// sourceName maps a repository file to its source name ("order-prod" for
// order-prod.yaml); ok is false for files that are not configuration.
func sourceName(file string) (string, bool) {
	if strings.Contains(file, "/") {
		return "", false // only the repository's top level holds configuration
	}
	ext := path.Ext(file)
	switch ext {
	case ".yaml", ".yml", ".properties":
		return strings.TrimSuffix(file, ext), true
	}
	return "", false
}

// parseFile reads a YAML or .properties file into flat dotted keys.
func parseFile(name string, data []byte) (map[string]string, error) {
	if strings.HasSuffix(name, ".properties") {
		return parseProperties(name, data)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxProblem(name, err.Error())
	}
	out := map[string]string{}
	if doc == nil {
		return out, nil
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, &Rejection{Problems: []Problem{{File: name, Syntax: NotAMapping}}}
	}
	flatten("", m, out)
	return out, nil
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, x, out)
		}
	case []any:
		for i, x := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), x, out)
		}
	case nil:
		out[prefix] = ""
	case time.Time:
		out[prefix] = t.Format(time.RFC3339)
	default:
		out[prefix] = fmt.Sprint(t)
	}
}

func parseProperties(name string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, &Rejection{Problems: []Problem{{File: name, Line: n, Syntax: "expected key=value"}}}
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out, sc.Err()
}

// Validate checks every source that reaches a service against its schema.
func Validate(sources map[string]map[string]string, schemas []configstore.Schema) error {
	var problems []Problem
	for _, sc := range schemas {
		known := map[string]configstore.Key{}
		for _, k := range sc.Keys {
			known[k.Name] = k
		}
		for src, vals := range sources {
			if src != "application" && !strings.HasPrefix(src, "application-") && src != sc.Service && !strings.HasPrefix(src, sc.Service+"-") {
				continue
			}
			for key, val := range vals {
				k, declared := known[key]
				if !declared {
					if sc.Strict != "" && strings.HasPrefix(key, sc.Strict) {
						problems = append(problems, Problem{Source: src, Key: key, Service: sc.Service, Strict: sc.Strict})
					}
					continue
				}
				if err := k.Check(val); err != nil {
					p := Problem{Source: src, Key: key}
					if bad, ok := err.(*configstore.BadValue); ok {
						p.Value = bad
					}
					problems = append(problems, p)
				}
			}
		}
	}
	if len(problems) > 0 {
		r := &Rejection{Problems: problems}
		sort.Slice(r.Problems, func(i, j int) bool { return r.Problems[i].String() < r.Problems[j].String() })
		return r
	}
	return nil
}

// Problem is one thing wrong in a commit: a file that does not read as
// configuration (File, Line when known, and the parser's words in Syntax),
// a value encrypted with no key or a wrong one (Cipher), a key its service
// declares strict and does not know (Strict), or a value its type refuses
// (Value). The console says each in its reader's language from these
// fields.
type Problem struct {
	File    string                `json:"file,omitempty"`
	Line    int                   `json:"line,omitempty"`
	Syntax  string                `json:"syntax,omitempty"`
	Source  string                `json:"source,omitempty"`
	Key     string                `json:"key,omitempty"`
	Cipher  string                `json:"cipher,omitempty"`
	Service string                `json:"service,omitempty"`
	Strict  string                `json:"strict,omitempty"`
	Value   *configstore.BadValue `json:"value,omitempty"`
}

// What a Problem's Syntax and Cipher say when it is not the parser's or
// the cipher's own words.
const (
	NotAMapping = "expected a mapping at the top"
	NoKey       = "encrypted but SANSHI_CONFIG_ENCRYPT_KEY is not set"
)

// yamlLine finds the line in the YAML parser's words ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxProblem is a file the YAML parser refused, with the line it named.
func syntaxProblem(file, words string) *Rejection {
	p := Problem{File: file, Syntax: words}
	if m := yamlLine.FindStringSubmatch(words); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Syntax = strings.TrimPrefix(words, m[0])
	}
	return &Rejection{Problems: []Problem{p}}
}

func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s: line %d: %s", p.File, p.Line, p.Syntax)
	case p.File != "":
		return fmt.Sprintf("%s: %s", p.File, p.Syntax)
	case p.Cipher != "":
		return fmt.Sprintf("%s: %s: %s", p.Source, p.Key, p.Cipher)
	case p.Strict != "":
		return fmt.Sprintf("%s: unknown key %s (the %s service declares %s* strict)", p.Source, p.Key, p.Service, p.Strict)
	}
	return fmt.Sprintf("%s: %s: %v", p.Source, p.Key, p.Value)
}

// Rejection is why a commit was refused, problem by problem.
type Rejection struct{ Problems []Problem }

func (r *Rejection) Error() string {
	parts := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Cipher encrypts and decrypts "{cipher}..." values with AES-256-GCM.
type Cipher struct{ aead cipher.AEAD }

// NewCipher uses a 32-byte key given as base64 (or 32 raw characters).
func NewCipher(key string) (*Cipher, error) {
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) != 32 {
		k = []byte(key)
	}
	if len(k) != 32 {
		return nil, errors.New("expected 32 bytes, as base64 or 32 characters")
	}
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	return &Cipher{aead: aead}, nil
}

// Encrypt returns the "{cipher}..." form of a value.
func (c *Cipher) Encrypt(plain string) string {
	nonce := make([]byte, c.aead.NonceSize())
	rand.Read(nonce)
	return "{cipher}" + base64.StdEncoding.EncodeToString(c.aead.Seal(nonce, nonce, []byte(plain), nil))
}

// Decrypt opens a "{cipher}..." value.
func (c *Cipher) Decrypt(v string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "{cipher}"))
	if err != nil || len(b) < c.aead.NonceSize() {
		return "", errors.New("not a valid {cipher} value")
	}
	plain, err := c.aead.Open(nil, b[:c.aead.NonceSize()], b[c.aead.NonceSize():], nil)
	if err != nil {
		return "", errors.New("cannot decrypt (wrong key?)")
	}
	return string(plain), nil
}

// decryptAll replaces {cipher} values by their plain text and returns the
// keys that were encrypted (to mask wherever shown).
func decryptAll(sources map[string]map[string]string, c *Cipher) (secret map[string]bool, err error) {
	secret = map[string]bool{}
	for src, vals := range sources {
		for k, v := range vals {
			if !strings.HasPrefix(v, "{cipher}") {
				continue
			}
			if c == nil {
				return nil, &Rejection{Problems: []Problem{{Source: src, Key: k, Cipher: NoKey}}}
			}
			plain, err := c.Decrypt(v)
			if err != nil {
				return nil, &Rejection{Problems: []Problem{{Source: src, Key: k, Cipher: err.Error()}}}
			}
			vals[k] = plain
			secret[k] = true
		}
	}
	return secret, nil
}
