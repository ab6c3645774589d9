// Package blob stores uploaded files (covers, avatars) behind a small
// interface: local disk by default, object storage later.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // registers GIF for DecodeConfig
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"sanshi/internal/chassis/errs"
)

// Store keeps blobs by key.
type Store interface {
	Put(ctx context.Context, key, contentType string, data []byte) error
	Get(ctx context.Context, key string) (data []byte, contentType string, err error)
}

// Disk stores blobs as files under a folder, with the content type beside.
type Disk struct{ Dir string }

func (d Disk) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("bad blob key %q", key)
	}
	return filepath.Join(d.Dir, filepath.FromSlash(key)), nil
}

// Put writes atomically: a reader sees the old file or the new, never half.
func (d Disk) Put(_ context.Context, key, contentType string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{p + ".type", []byte(contentType)}, {p, data}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return err
		}
	}
	return nil
}

// Get reads a blob; a missing one is a not_found error.
func (d Disk) Get(_ context.Context, key string) ([]byte, string, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, "", errs.E(errs.NotFound, "no such file")
	}
	data, err := os.ReadFile(p) // #nosec G304 G703 -- p comes from d.path, which accepts only generated keys inside Dir
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", errs.E(errs.NotFound, "no such file")
	}
	if err != nil {
		return nil, "", err
	}
	ct, _ := os.ReadFile(p + ".type") // #nosec G304 G703 -- as above
	return data, string(ct), nil
}

// maxSide bounds image dimensions (a small file can claim huge ones).
const maxSide = 10_000

// Image types accepted for uploads, by sniffed content.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// ReadImage reads an uploaded image body of at most max bytes and returns it
// with its sniffed type. The declared type is not trusted.
func ReadImage(w http.ResponseWriter, r *http.Request, field string, max int64) ([]byte, string, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, "", errs.E(errs.TooLarge, "%s: the image is larger than %d MB", field, max>>20)
	}
	if err != nil {
		return nil, "", errs.Fields(map[string]string{field: "could not read the upload"})
	}
	if len(data) == 0 {
		return nil, "", errs.Fields(map[string]string{field: "the image is empty"})
	}
	ct := http.DetectContentType(data)
	if !imageTypes[ct] {
		return nil, "", errs.Fields(map[string]string{field: "must be a PNG, JPEG, GIF or WebP image"})
	}
	if ct != "image/webp" { // the standard library reads the others' headers
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, "", errs.Fields(map[string]string{field: "the image is damaged or not really " + ct})
		}
		if cfg.Width > maxSide || cfg.Height > maxSide {
			return nil, "", errs.Fields(map[string]string{field: fmt.Sprintf("at most %d×%d pixels", maxSide, maxSide)})
		}
	}
	return data, ct, nil
}

// Serve writes a stored blob with caching headers.
func Serve(w http.ResponseWriter, r *http.Request, s Store, key string) {
	data, ct, err := s.Get(r.Context(), key)
	if err != nil {
		errs.Write(w, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(data)
}
