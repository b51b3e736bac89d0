package container_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

// What podman 4.3.1's Docker-compatible API answered for a container
// started by tag (testdata/podman-4.3.1-*.json, recorded).
const (
	podmanContainerID = "b88492c24d0820d9e0ef1edfb36d2630662cdbd8748607ffeb6deb3c5e1d10d3"
	podmanImage       = "localhost/wl:v1"
	podmanImageID     = "60e5f98966af8b2d902426d47eb822331d6762474f6f814b3e37fb0df2e76d06"
	podmanDigest      = "39ba8254db36deb273092a56b2bf47c773232cda4c970712f4ae03d2878eac6f"
	podmanInitPID     = 5318 // State.Pid
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeDaemon is a Docker Engine API server on a unix socket that answers
// container and image inspects from its maps (404 otherwise).
type fakeDaemon struct {
	socket     string
	mu         sync.Mutex
	containers map[string]string // ID -> body
	images     map[string]string // "sha256:<hex>" -> body
	status     int               // when set, every answer has this status
	requests   []string

	podmanContainer, podmanImage string // the recorded bodies
}

func newFakeDaemon(t testing.TB) *fakeDaemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "dockerd-") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &fakeDaemon{socket: filepath.Join(dir, "docker.sock"), containers: map[string]string{}, images: map[string]string{},
		podmanContainer: readTestdata(t, "podman-4.3.1-container.json"), podmanImage: readTestdata(t, "podman-4.3.1-image.json")}
	l, err := net.Listen("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(d.serve))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return d
}

func (d *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests = append(d.requests, r.Method+" "+r.URL.Path)
	if d.status != 0 {
		w.WriteHeader(d.status)
		fmt.Fprint(w, `{"message":"server error"}`)
		return
	}
	var body string
	var ok bool
	if id, found := strings.CutPrefix(r.URL.Path, "/containers/"); found {
		body, ok = d.containers[strings.TrimSuffix(id, "/json")]
	} else if id, found := strings.CutPrefix(r.URL.Path, "/images/"); found {
		body, ok = d.images[strings.TrimSuffix(id, "/json")]
	}
	if !ok || r.Method != http.MethodGet {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"cause":"no such container","message":"no container with name or ID \"%s\" found: no such container","response":404}`, r.URL.Path)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, body)
}

// addPodman adds the recorded podman container under ID id, and its image.
func (d *fakeDaemon) addPodman(id string) { d.addPodmanPID(id, podmanInitPID) }

// addPodmanPID is addPodman with the container's process pid (State.Pid).
func (d *fakeDaemon) addPodmanPID(id string, pid int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	body := strings.ReplaceAll(d.podmanContainer, podmanContainerID, id)
	d.containers[id] = strings.Replace(body, fmt.Sprintf(`"Pid":%d,`, podmanInitPID), fmt.Sprintf(`"Pid":%d,`, pid), 1)
	d.images["sha256:"+podmanImageID] = d.podmanImage
}

func TestDocker(t *testing.T) {
	d := newFakeDaemon(t)
	r := container.NewDocker(d.socket)
	defer r.Close()
	ctx := context.Background()

	d.addPodman(idA)
	info, err := r.Inspect(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	want := container.Info{Image: podmanImage, ImageID: "sha256:" + podmanImageID, ImageDigests: []string{"sha256:" + podmanDigest}, InitPID: podmanInitPID}
	if !infoEqual(info, want) {
		t.Fatalf("info %+v\nwant %+v", info, want)
	}
	if !slices.Equal(d.requests, []string{"GET /containers/" + idA + "/json", "GET /images/sha256:" + podmanImageID + "/json"}) {
		t.Fatalf("requests %q", d.requests)
	}

	t.Run("unknown container", func(t *testing.T) {
		_, err := r.Inspect(ctx, idB)
		if !errors.Is(err, container.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		want := `inspect container: no such container (no container with name or ID "/containers/` + idB + `/json" found: no such container)`
		if err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("image removed", func(t *testing.T) {
		d.mu.Lock()
		delete(d.images, "sha256:"+podmanImageID)
		d.mu.Unlock()
		defer d.addPodman(idA)
		info, err := r.Inspect(ctx, idA)
		if err != nil {
			t.Fatal(err)
		}
		want := container.Info{Image: podmanImage, ImageID: "sha256:" + podmanImageID, InitPID: podmanInitPID,
			Unresolved: "image sha256:" + podmanImageID + " was removed since the container was created"}
		if !infoEqual(info, want) {
			t.Fatalf("info %+v\nwant %+v", info, want)
		}
	})
	t.Run("daemon error", func(t *testing.T) {
		d.mu.Lock()
		d.status = http.StatusInternalServerError
		d.mu.Unlock()
		defer func() { d.mu.Lock(); d.status = 0; d.mu.Unlock() }()
		_, err := r.Inspect(ctx, idA)
		if err == nil || err.Error() != "inspect container: HTTP 500: server error" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("answer too large", func(t *testing.T) {
		d.mu.Lock()
		d.containers[idC] = `{"Id":"` + idC + `","Padding":"` + strings.Repeat("x", container.MaxInspectSize) + `"}`
		d.mu.Unlock()
		_, err := r.Inspect(ctx, idC)
		if err == nil || err.Error() != fmt.Sprintf("inspect container: answer larger than %d bytes", container.MaxInspectSize) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no daemon", func(t *testing.T) {
		r := container.NewDocker(filepath.Join(t.TempDir(), "none.sock"))
		_, err := r.Inspect(ctx, idA)
		if err == nil || errors.Is(err, container.ErrNotFound) || !strings.Contains(err.Error(), "connect: no such file or directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

func infoEqual(a, b container.Info) bool {
	return a.Image == b.Image && a.ImageID == b.ImageID && slices.Equal(a.ImageDigests, b.ImageDigests) &&
		a.Namespace == b.Namespace && a.Unresolved == b.Unresolved && a.InitPID == b.InitPID
}

func TestParseDocker(t *testing.T) {
	hex := strings.Repeat("2", 64)
	tests := []struct {
		name      string
		container string
		image     string // "": not asked
		want      container.Info
		wantErr   string
	}{
		{
			name:      "Docker: tag, image ID with sha256:, two repository digests",
			container: `{"Id":"` + idA + `","Image":"sha256:` + hex + `","Config":{"Image":"nginx:1.27"}}`,
			image:     `{"Id":"sha256:` + hex + `","RepoDigests":["nginx@` + digest2 + `","mirror.example/nginx@` + digest1 + `","nginx@` + digest2 + `"]}`,
			want:      container.Info{Image: "nginx:1.27", ImageID: "sha256:" + hex, ImageDigests: []string{digest1, digest2}},
		},
		{
			name:      "image ID without sha256:",
			container: `{"Id":"` + idA + `","Image":"` + hex + `","Config":{"Image":"x"}}`,
			image:     `{"Id":"` + hex + `","RepoDigests":["x@` + digest1 + `"]}`,
			want:      container.Info{Image: "x", ImageID: "sha256:" + hex, ImageDigests: []string{digest1}},
		},
		{
			name:      "built locally: no repository digest",
			container: `{"Id":"` + idA + `","Image":"sha256:` + hex + `","Config":{"Image":"app:dev"}}`,
			image:     `{"Id":"sha256:` + hex + `","RepoDigests":[]}`,
			want: container.Info{Image: "app:dev", ImageID: "sha256:" + hex,
				Unresolved: "image sha256:" + hex + " has no repository digest (built locally, never pushed or pulled by digest)"},
		},
		{
			name:      "malformed repository digests are skipped",
			container: `{"Id":"` + idA + `","Image":"sha256:` + hex + `"}`,
			image:     `{"Id":"sha256:` + hex + `","RepoDigests":["x@sha256:ABC","x@sha512:` + hex + hex + `","x:tag","@` + digest1 + `"]}`,
			want:      container.Info{ImageID: "sha256:" + hex, ImageDigests: []string{digest1}},
		},
		{
			name:      "image ID not a digest",
			container: `{"Id":"` + idA + `","Image":"nginx","Config":{"Image":"nginx"}}`,
			want:      container.Info{Image: "nginx", Unresolved: `image ID "nginx" is not a sha256 digest`},
		},
		{
			name:      "no image",
			container: `{"Id":"` + idA + `"}`,
			want:      container.Info{Unresolved: "the runtime names no image"},
		},
		{
			name:      "running: its first process",
			container: `{"Id":"` + idA + `","State":{"Running":true,"Pid":4242}}`,
			want:      container.Info{Unresolved: "the runtime names no image", InitPID: 4242},
		},
		{
			name:      "stopped: no process, whatever Pid says",
			container: `{"Id":"` + idA + `","State":{"Running":false,"Pid":4242}}`,
			want:      container.Info{Unresolved: "the runtime names no image"},
		},
		{
			name:      "running without a PID",
			container: `{"Id":"` + idA + `","State":{"Running":true,"Pid":0}}`,
			want:      container.Info{Unresolved: "the runtime names no image"},
		},
		{
			name:      "negative PID",
			container: `{"Id":"` + idA + `","State":{"Running":true,"Pid":-1}}`,
			want:      container.Info{Unresolved: "the runtime names no image"},
		},
		{
			name:      "another container",
			container: `{"Id":"` + idB + `"}`,
			wantErr:   "asked for container " + idA + `, got "` + idB + `"`,
		},
		{
			name:      "another image",
			container: `{"Id":"` + idA + `","Image":"sha256:` + hex + `"}`,
			image:     `{"Id":"` + digest1 + `"}`,
			wantErr:   "asked for image sha256:" + hex + `, got "` + digest1 + `"`,
		},
		{
			name:      "not JSON",
			container: `<html>`,
			wantErr:   "decode container: invalid character '<' looking for beginning of value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := container.ParseDockerContainer([]byte(tt.container), idA)
			if err == nil && tt.image != "" {
				info.ImageDigests, info.Unresolved, err = container.ParseDockerImage([]byte(tt.image), info.ImageID)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !infoEqual(info, tt.want) {
				t.Fatalf("info %+v\nwant %+v", info, tt.want)
			}
		})
	}
}
