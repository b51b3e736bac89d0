package containertest

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageOptions describe an image.
type ImageOptions struct {
	// Files are the image's files by absolute path, each executable
	// (mode 0755) when Executable lists it, else 0644.
	Files map[string][]byte
	// Executable lists the paths of Files that are executables.
	Executable []string
	// Dirs are empty directories to create (mount points).
	Dirs []string
	// Entrypoint and Cmd are the image's default command.
	Entrypoint, Cmd []string
	// Labels are the configuration's labels: a different label makes a
	// different image (config and manifest digests) with the same files.
	Labels map[string]string
}

// Image is a built image and its digests.
type Image struct {
	v1.Image
	// Digest is the manifest digest ("sha256:<hex>"), what a registry and
	// a runtime that pulled the image call its repository digest.
	Digest string
	// ConfigDigest is the digest of its configuration ("sha256:<hex>"),
	// the image ID of containerd and podman.
	ConfigDigest string
}

// fixedTime makes builds reproducible.
var fixedTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Build makes a one-layer image for the host's OS and architecture.
func Build(tb testing.TB, opts ImageOptions) Image {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range slices.Sorted(slices.Values(opts.Dirs)) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: fixedTime}); err != nil {
			tb.Fatal(err)
		}
	}
	paths := make([]string, 0, len(opts.Files))
	for p := range opts.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		mode := int64(0o644)
		if slices.Contains(opts.Executable, p) {
			mode = 0o755
		}
		b := opts.Files[p]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: mode, Size: int64(len(b)), ModTime: fixedTime}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		tb.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: fixedTime}
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.Labels = opts.Entrypoint, opts.Cmd, opts.Labels
	cf.Config.Env = []string{"PATH=/"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		tb.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	cd, err := img.ConfigName()
	if err != nil {
		tb.Fatal(err)
	}
	return Image{Image: img, Digest: d.String(), ConfigDigest: cd.String()}
}

// Registry is an in-memory image registry on 127.0.0.1.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	srv  *httptest.Server
}

// Stop stops serving: clients then get "connection refused".
func (r *Registry) Stop() { r.srv.Close() }

// StartRegistry serves a registry until the test ends.
func StartRegistry(tb testing.TB) *Registry {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var logs bytes.Buffer
	logger := log.New(&syncWriter{w: &logs}, "registry: ", 0)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(logger)))
	srv.Listener = l
	srv.Config.ErrorLog = logger
	srv.Start()
	tb.Cleanup(func() {
		srv.Close()
		if tb.Failed() {
			tb.Logf("==== registry log ====\n%s", tail(logs.Bytes()))
		}
	})
	return &Registry{Host: l.Addr().String(), srv: srv}
}

// Push stores img as repoTag ("wl:v1") and returns the full reference
// ("127.0.0.1:PORT/wl:v1").
func (r *Registry) Push(tb testing.TB, img Image, repoTag string) string {
	tb.Helper()
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, img.Image, remote.WithTransport(http.DefaultTransport)); err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

// ReadFile reads a file for an image, failing the test on error.
func ReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
