// Command imagebuild adds Sanshi's application layer (the binary only) on
// top of the runtime image, reproducibly: the layer's files and folders all
// carry the commit's time (SOURCE_DATE_EPOCH), so the same commit gives the
// same layer digest and the same image id. Docker's legacy builder, the only
// one on machines without buildx, stamps the folders a COPY touches with the
// build's clock, which is why the layer is assembled here. It loads the
// image into Docker and can also write an OCI image layout archive (what
// `skopeo copy oci-archive:…` or `crane push` sends to a registry).
//
//	go run ./tools/imagebuild --base sanshi/runtime:bookworm --binary BIN \
//	    --tag sanshi:1.2.0 --tag sanshi:main-abc1234 --created 2026-11-28T00:00:00Z \
//	    --label org.opencontainers.image.version=1.2.0 [--oci OUT.tar]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var spec Spec
	var tags, labels list
	var created, oci string
	fs.StringVar(&spec.Base, "base", "sanshi/runtime:bookworm", "the runtime image to build on")
	fs.StringVar(&spec.Binary, "binary", "", "the sanshi binary")
	fs.Var(&tags, "tag", "a tag for the image (repeatable)")
	fs.Var(&labels, "label", "KEY=VALUE, an OCI label (repeatable)")
	fs.StringVar(&created, "created", "", "the build time, RFC 3339 (the commit's time)")
	fs.StringVar(&oci, "oci", "", "also write an OCI image layout archive here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if spec.Binary == "" || len(tags) == 0 || created == "" {
		return fmt.Errorf("--binary, --tag and --created are required")
	}
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return fmt.Errorf("--created: %w", err)
	}
	spec.Created, spec.Tags, spec.Labels = t.UTC(), tags, map[string]string{}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("--label %q: expected KEY=VALUE", l)
		}
		spec.Labels[k] = v
	}
	img, err := Build(ctx, spec)
	if err != nil {
		return err
	}
	defer img.Close()
	fmt.Fprintf(stdout, "image %s, application layer %s (%d bytes, %d compressed)\n", img.ID, img.AppDiffID, img.AppSize, img.AppCompressed)
	if oci != "" {
		if err := img.WriteOCI(oci, tags[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "OCI archive %s\n", oci)
	}
	return nil
}
