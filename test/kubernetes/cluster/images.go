package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hwattest/hwattest/internal/containertest"
)

// ImageOptions describe an image (see containertest.ImageOptions).
type ImageOptions = containertest.ImageOptions

// Image is an image and its digests (see containertest.Image).
type Image = containertest.Image

var (
	podbinOnce sync.Once
	podbin     []byte
	podbinErr  error
)

// PodBinary returns the test pod binary (./internal/podbin), built once per
// test binary: static, so that it runs in an image with no other files.
func (c *Cluster) PodBinary(tb testing.TB) []byte {
	tb.Helper()
	podbinOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "hwk8s-podbin-")
		if err != nil {
			podbinErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "podbin")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./internal/podbin")
		cmd.Dir = filepath.Dir(file)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			podbinErr = fmt.Errorf("go build ./internal/podbin: %w\n%s", err, b)
			return
		}
		podbin, podbinErr = os.ReadFile(out)
	})
	if podbinErr != nil {
		tb.Fatal(podbinErr)
	}
	return podbin
}

// ImportImage builds an image offline and imports it into containerd's
// k8s.io namespace as ref, where the kubelet finds it; pods name it with
// imagePullPolicy: Never.
func (c *Cluster) ImportImage(tb testing.TB, ref string, opts ImageOptions) Image {
	tb.Helper()
	img := containertest.Build(tb, opts)
	tag, err := name.NewTag(ref)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(c.Dir, "image.tar")
	if err := tarball.WriteToFile(path, tag, img.Image); err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(path)
	if _, err := c.ctr("images", "import", path); err != nil {
		tb.Fatal(err)
	}
	return img
}

// ImageDigest returns the digest of the manifest containerd holds for ref,
// the digest the container attestor reports as container:image_digest.
// An imported image's manifest is containerd's, not the one Build made,
// so its digest is asked for, not computed.
func (c *Cluster) ImageDigest(tb testing.TB, ref string) string {
	tb.Helper()
	out, err := c.ctr("images", "ls", "name=="+ref)
	if err != nil {
		tb.Fatal(err)
	}
	// REF TYPE DIGEST SIZE PLATFORMS LABELS
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		tb.Fatalf("ctr images ls name==%s: %q", ref, out)
	}
	f := strings.Fields(lines[1])
	if len(f) < 3 || f[0] != ref || !strings.HasPrefix(f[2], "sha256:") {
		tb.Fatalf("ctr images ls name==%s: %q", ref, out)
	}
	return f[2]
}

// HostExecutable returns the files an image needs to run the host's
// executable at path as dest: the executable and, for a dynamically linked
// one, the shared libraries and loader ldd lists, at their host paths.
func HostExecutable(tb testing.TB, path, dest string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	files[dest] = b
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return files // "not a dynamic executable"
	}
	for _, line := range strings.Split(string(out), "\n") {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"
		f := strings.Fields(line)
		lib := ""
		switch {
		case len(f) >= 3 && f[1] == "=>":
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		}
		if lib == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			tb.Fatal(err)
		}
		files[lib] = b
	}
	return files
}
