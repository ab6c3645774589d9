package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Spec is what goes into the image.
type Spec struct {
	Base    string
	Binary  string
	Tags    []string
	Labels  map[string]string
	Created time.Time
}

// Image is the built image: the base's layers and the application layer,
// with its configuration.
type Image struct {
	ID            string
	AppDiffID     string
	AppSize       int
	AppCompressed int
	config        []byte
	dir           string   // the saved base image, extracted
	layers        []string // base layer files under dir, bottom first
	app           []byte   // the application layer (tar)
}

// Build assembles the image and loads it into Docker under spec.Tags.
func Build(ctx context.Context, s Spec) (*Image, error) {
	dir, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return nil, err
	}
	img := &Image{dir: dir}
	if err := img.build(ctx, s); err != nil {
		img.Close()
		return nil, err
	}
	return img, nil
}

// Close removes the working copy of the base image.
func (img *Image) Close() { _ = os.RemoveAll(img.dir) }

func (img *Image) build(ctx context.Context, s Spec) error {
	dir := img.dir
	if err := saveBase(ctx, s.Base, dir); err != nil {
		return err
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &manifest); err != nil || len(manifest) != 1 {
		return fmt.Errorf("docker save %s: unexpected manifest: %v", s.Base, err)
	}
	img.layers = manifest[0].Layers
	var cfg map[string]any
	if err := readJSON(filepath.Join(dir, manifest[0].Config), &cfg); err != nil {
		return err
	}
	bin, err := os.ReadFile(s.Binary) // #nosec G304 -- the binary the script just built
	if err != nil {
		return err
	}
	img.app = appLayer(bin, s.Created)
	img.AppSize = len(img.app)
	img.AppDiffID = digest(img.app)
	img.AppCompressed = len(gz(img.app))
	img.config, err = configure(cfg, s, img.AppDiffID)
	if err != nil {
		return err
	}
	img.ID = digest(img.config)
	return img.load(ctx, s.Tags)
}

// appLayer is a tar of /usr/local/bin/sanshi whose every entry carries the
// same time and owner, so equal binaries give equal layers.
func appLayer(bin []byte, t time.Time) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: t, Format: tar.FormatPAX})
	}
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/local/bin/sanshi", Mode: 0o755, Size: int64(len(bin)), ModTime: t, Format: tar.FormatPAX})
	_, _ = tw.Write(bin)
	_ = tw.Close()
	return buf.Bytes()
}

// configure is the base's configuration with the application's entry
// point, labels, time, history and layer.
func configure(cfg map[string]any, s Spec, diffID string) ([]byte, error) {
	created := s.Created.Format(time.RFC3339)
	c, _ := cfg["config"].(map[string]any)
	if c == nil {
		return nil, fmt.Errorf("base image has no config")
	}
	labels, _ := c["Labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	for k, v := range s.Labels {
		labels[k] = v
	}
	c["Labels"] = labels
	c["Entrypoint"] = []string{"dumb-init", "--", "sanshi"}
	c["Cmd"] = []string{"help"}
	ports, _ := c["ExposedPorts"].(map[string]any)
	if ports == nil {
		ports = map[string]any{}
	}
	ports["8080/tcp"], ports["9090/tcp"] = map[string]any{}, map[string]any{}
	c["ExposedPorts"] = ports
	cfg["created"] = created
	delete(cfg, "container") // the legacy builder's build container: not part of this image
	delete(cfg, "container_config")
	history, _ := cfg["history"].([]any)
	cfg["history"] = append(history, map[string]any{"created": created, "created_by": "imagebuild: COPY sanshi /usr/local/bin/sanshi"})
	rootfs, _ := cfg["rootfs"].(map[string]any)
	ids, _ := rootfs["diff_ids"].([]any)
	rootfs["diff_ids"] = append(ids, diffID)
	return json.Marshal(cfg) // maps marshal with sorted keys: the same input, the same bytes
}

// load writes a docker-archive of the image into `docker load`.
func (img *Image) load(ctx context.Context, tags []string) error {
	cmd := exec.CommandContext(ctx, "docker", "load", "-q")
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	hexID := strings.TrimPrefix(img.ID, "sha256:")
	appPath := strings.TrimPrefix(img.AppDiffID, "sha256:") + "/layer.tar"
	werr := func() error {
		tw := tar.NewWriter(pw)
		files := map[string][]byte{hexID + ".json": img.config, appPath: img.app}
		for _, name := range []string{hexID + ".json", appPath} {
			if err := addFile(tw, name, files[name]); err != nil {
				return err
			}
		}
		for _, l := range img.layers {
			b, err := os.ReadFile(filepath.Join(img.dir, filepath.FromSlash(l)))
			if err != nil {
				return err
			}
			if err := addFile(tw, l, b); err != nil {
				return err
			}
		}
		m, _ := json.Marshal([]map[string]any{{"Config": hexID + ".json", "RepoTags": tags, "Layers": append(append([]string(nil), img.layers...), appPath)}})
		if err := addFile(tw, "manifest.json", m); err != nil {
			return err
		}
		return tw.Close()
	}()
	_ = pw.CloseWithError(werr)
	if err := cmd.Wait(); err != nil || werr != nil {
		return fmt.Errorf("docker load: %v %v: %s", werr, err, out.String())
	}
	return nil
}

// WriteOCI writes the image as an OCI image layout in a tar archive, its
// layers gzip-compressed as a registry stores them.
func (img *Image) WriteOCI(file, ref string) error {
	f, err := os.Create(file) // #nosec G304 -- the operator names the output
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blob := func(b []byte) (string, error) {
		d := digest(b)
		return d, addFile(tw, "blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	var layers []desc
	for _, l := range img.layers {
		raw, err := os.ReadFile(filepath.Join(img.dir, filepath.FromSlash(l)))
		if err != nil {
			return err
		}
		z := gz(raw)
		d, err := blob(z)
		if err != nil {
			return err
		}
		layers = append(layers, desc{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: d, Size: len(z)})
	}
	z := gz(img.app)
	d, err := blob(z)
	if err != nil {
		return err
	}
	layers = append(layers, desc{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: d, Size: len(z)})
	cd, err := blob(img.config)
	if err != nil {
		return err
	}
	manifest, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cd, Size: len(img.config)}, "layers": layers})
	md, err := blob(manifest)
	if err != nil {
		return err
	}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []desc{{MediaType: "application/vnd.oci.image.manifest.v1+json",
		Digest: md, Size: len(manifest), Annotations: map[string]string{"org.opencontainers.image.ref.name": ref}}}})
	if err := addFile(tw, "index.json", index); err != nil {
		return err
	}
	if err := addFile(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// saveBase extracts `docker save base` into dir.
func saveBase(ctx context.Context, base, dir string) error {
	cmd := exec.CommandContext(ctx, "docker", "save", base) // #nosec G204 -- the image name is the operator's
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || strings.HasPrefix(name, "..") || path.IsAbs(name) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		f, err := os.Create(dst) // #nosec G304 -- a cleaned relative name under our own temporary folder
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr) // #nosec G110 -- docker's own archive of a local image
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker save %s: %v: %s", base, err, stderr.String())
	}
	return nil
}

func addFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func readJSON(file string, v any) error {
	b, err := os.ReadFile(file) // #nosec G304 -- under our own temporary folder
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// gz compresses deterministically (no name, no time in the header).
func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}
