package container_test

import (
	"context"
	"errors"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1desc "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/workloadattestor/container"
)

// TestContainerd asks a real, private containerd about container records
// made with ctr from images pulled by tag from a local registry.
func TestContainerd(t *testing.T) {
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	build := func(variant string) containertest.Image {
		return containertest.Build(t, containertest.ImageOptions{
			Files:      map[string][]byte{"/bin/app": []byte("#!/bin/app\n" + variant)},
			Executable: []string{"/bin/app"},
			Entrypoint: []string{"/bin/app"},
			Labels:     map[string]string{"variant": variant},
		})
	}
	v1, v2 := build("one"), build("two")
	ref := reg.Push(t, v1, "app:v1")
	ctrd.Pull(t, "k8s.io", ref)
	ctrd.Pull(t, "default", ref)

	r, err := container.NewContainerd(ctrd.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	inspect := func(id string) (container.Info, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return r.Inspect(ctx, id)
	}

	id := strings.Repeat("a1", 32)
	ctrd.Create(t, "k8s.io", ref, id)
	t.Run("started by tag: digest resolved, in the k8s.io namespace", func(t *testing.T) {
		info, err := inspect(id)
		if err != nil {
			t.Fatal(err)
		}
		want := container.Info{Image: ref, ImageID: v1.ConfigDigest, ImageDigests: []string{v1.Digest}, Namespace: "k8s.io"}
		if !infoEqual(info, want) {
			t.Fatalf("info %+v\nwant %+v", info, want)
		}
	})
	t.Run("repository of the digest, for provenance", func(t *testing.T) {
		info, err := inspect(id)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{strings.TrimSuffix(ref, ":v1") + "@" + v1.Digest}
		if !slices.Equal(info.RepoDigests, want) {
			t.Fatalf("repository digests %q, want %q", info.RepoDigests, want)
		}
	})
	t.Run("multi-platform index: the platform manifest too, for provenance", func(t *testing.T) {
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: v2.Image, Descriptor: v1desc.Descriptor{
			Platform: &v1desc.Platform{OS: goruntime.GOOS, Architecture: goruntime.GOARCH},
		}})
		ixRef, err := name.ParseReference(reg.Host+"/multi:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(ixRef, idx); err != nil {
			t.Fatal(err)
		}
		ixDigest, _ := idx.Digest()
		ctrd.Pull(t, "k8s.io", ixRef.String())
		mid := strings.Repeat("a4", 32)
		ctrd.Create(t, "k8s.io", ixRef.String(), mid)
		info, err := inspect(mid)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info.ImageDigests, []string{ixDigest.String()}) {
			t.Fatalf("image digests %q, want the index %s", info.ImageDigests, ixDigest)
		}
		repo := reg.Host + "/multi"
		want := []string{repo + "@" + ixDigest.String(), repo + "@" + v2.Digest}
		if !slices.Equal(info.RepoDigests, want) {
			t.Fatalf("repository digests %q, want %q", info.RepoDigests, want)
		}
	})
	t.Run("started by digest", func(t *testing.T) {
		byDigest := strings.TrimSuffix(ref, ":v1") + "@" + v1.Digest
		ctrd.Pull(t, "default", byDigest)
		other := strings.Repeat("a2", 32)
		ctrd.Create(t, "default", byDigest, other)
		info, err := inspect(other)
		if err != nil {
			t.Fatal(err)
		}
		want := container.Info{Image: byDigest, ImageID: v1.ConfigDigest, ImageDigests: []string{v1.Digest}, Namespace: "default"}
		if !infoEqual(info, want) {
			t.Fatalf("info %+v\nwant %+v", info, want)
		}
	})
	t.Run("unknown container", func(t *testing.T) {
		_, err := inspect(strings.Repeat("0", 64))
		if !errors.Is(err, container.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("same ID in two namespaces", func(t *testing.T) {
		twice := strings.Repeat("a3", 32)
		ctrd.Create(t, "k8s.io", ref, twice)
		ctrd.Create(t, "default", ref, twice)
		_, err := inspect(twice)
		if err == nil || err.Error() != `container is in several namespaces ["default" "k8s.io"]` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("tag moved to other content since: no digest", func(t *testing.T) {
		reg.Push(t, v2, "app:v1")
		ctrd.Pull(t, "k8s.io", ref)
		info, err := inspect(id)
		if err != nil {
			t.Fatal(err)
		}
		if info.Image != ref || info.ImageID != "" || len(info.ImageDigests) != 0 ||
			!strings.HasPrefix(info.Unresolved, "image "+ref+" now names other content (layers sha256:") {
			t.Fatalf("info %+v", info)
		}
		// A container made from the new content resolves to it.
		fresh := strings.Repeat("a4", 32)
		ctrd.Create(t, "k8s.io", ref, fresh)
		info, err = inspect(fresh)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info.ImageDigests, []string{v2.Digest}) || info.ImageID != v2.ConfigDigest {
			t.Fatalf("info %+v", info)
		}
	})
	t.Run("image removed: no digest", func(t *testing.T) {
		ctrd.Ctr(t, "k8s.io", "images", "rm", ref)
		info, err := inspect(id)
		if err != nil {
			t.Fatal(err)
		}
		want := container.Info{Image: ref, Namespace: "k8s.io", Unresolved: "image " + ref + " was removed since the container was created"}
		if !infoEqual(info, want) {
			t.Fatalf("info %+v\nwant %+v", info, want)
		}
	})
	t.Run("containerd not running", func(t *testing.T) {
		r, err := container.NewContainerd(filepath.Join(t.TempDir(), "none.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err = r.Inspect(ctx, id)
		if err == nil || errors.Is(err, container.ErrNotFound) || !strings.HasPrefix(err.Error(), "list namespaces: ") {
			t.Fatalf("err = %v", err)
		}
	})
}
