package container

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/platforms"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// containerdRuntime is containerd's API on a unix socket.
type containerdRuntime struct {
	client *client.Client
}

// newContainerd makes a containerd client; it connects on first use, and
// again after a failure.
func newContainerd(socket string) (*containerdRuntime, error) {
	c, err := client.New(socket)
	if err != nil {
		return nil, fmt.Errorf("containerd client: %w", err)
	}
	return &containerdRuntime{client: c}, nil
}

func (r *containerdRuntime) Close() error { return r.client.Close() }

// Inspect implements runtime: it looks for container id in every namespace
// (Kubernetes' k8s.io, ctr's default, nerdctl's, ...). An ID in more than
// one namespace is an error: containerd lets a client choose IDs, and the
// plugin cannot tell which of them the process runs in.
func (r *containerdRuntime) Inspect(ctx context.Context, id string) (containerInfo, error) {
	nss, err := r.client.NamespaceService().List(ctx)
	if err != nil {
		return containerInfo{}, fmt.Errorf("list namespaces: %w", err)
	}
	var (
		found   containers.Container
		foundNS []string
	)
	for _, ns := range nss {
		c, err := r.client.ContainerService().Get(namespaces.WithNamespace(ctx, ns), id)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return containerInfo{}, fmt.Errorf("namespace %q: get container: %w", ns, err)
		}
		found = c
		foundNS = append(foundNS, ns)
	}
	switch len(foundNS) {
	case 0:
		return containerInfo{}, fmt.Errorf("%w in namespaces %q", errNotFound, nss)
	case 1:
	default:
		return containerInfo{}, fmt.Errorf("container is in several namespaces %q", foundNS)
	}
	nsCtx := namespaces.WithNamespace(ctx, foundNS[0])
	info, err := r.describe(nsCtx, foundNS[0], found)
	if err != nil {
		return containerInfo{}, err
	}
	if info.InitPID, err = r.initPID(nsCtx, id); err != nil {
		return containerInfo{}, err
	}
	return info, nil
}

// initPID returns the PID of container id's task (its first process), 0
// when it has no task or the task is not running.
func (r *containerdRuntime) initPID(ctx context.Context, id string) (int, error) {
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id})
	err = errgrpc.ToNative(err)
	if errdefs.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get task: %w", err)
	}
	proc := resp.GetProcess()
	switch proc.GetStatus() {
	case task.Status_RUNNING, task.Status_PAUSING, task.Status_PAUSED:
		return int(proc.GetPid()), nil
	default:
		return 0, nil
	}
}

// describe resolves the image of container c in namespace ns. The image
// record the container names (by reference, which may be a tag) is
// trusted only when its root file system for this platform is the one the
// container's snapshot was prepared from: a tag pulled again since then
// names other content, and then no digest is returned.
func (r *containerdRuntime) describe(ctx context.Context, ns string, c containers.Container) (containerInfo, error) {
	info := containerInfo{Image: c.Image, Namespace: ns}
	if c.Image == "" {
		// Docker's containers in containerd's "moby" namespace, or
		// containers made from a root file system directly.
		info.Unresolved = "the container record names no image"
		return info, nil
	}
	img, err := r.client.ImageService().Get(ctx, c.Image)
	if errdefs.IsNotFound(err) {
		info.Unresolved = "image " + c.Image + " was removed since the container was created"
		return info, nil
	}
	if err != nil {
		return containerInfo{}, fmt.Errorf("get image %s: %w", c.Image, err)
	}
	if c.SnapshotKey == "" {
		info.Unresolved = "the container has no snapshot to check the image against"
		return info, nil
	}
	store, platform := r.client.ContentStore(), platforms.Default()
	diffIDs, err := img.RootFS(ctx, store, platform)
	if errdefs.IsNotFound(err) {
		info.Unresolved = fmt.Sprintf("image %s: content for %s missing: %v", c.Image, platforms.DefaultString(), err)
		return info, nil
	}
	if err != nil {
		return containerInfo{}, fmt.Errorf("image %s: read root file system: %w", c.Image, err)
	}
	snapshotter := c.Snapshotter
	if snapshotter == "" {
		snapshotter = defaults.DefaultSnapshotter
	}
	snap, err := r.client.SnapshotService(snapshotter).Stat(ctx, c.SnapshotKey)
	if errdefs.IsNotFound(err) {
		info.Unresolved = "the container's snapshot is gone"
		return info, nil
	}
	if err != nil {
		return containerInfo{}, fmt.Errorf("snapshot %s/%s: %w", snapshotter, c.SnapshotKey, err)
	}
	if chain := identity.ChainID(diffIDs).String(); !sameChain(snap.Parent, chain) {
		info.Unresolved = fmt.Sprintf("image %s now names other content (layers %s) than the container was created from (%s)",
			c.Image, chain, snap.Parent)
		return info, nil
	}
	config, err := img.Config(ctx, store, platform)
	if err != nil {
		return containerInfo{}, fmt.Errorf("image %s: read configuration descriptor: %w", c.Image, err)
	}
	if id := config.Digest.String(); isDigest(id) {
		info.ImageID = id
	}
	if dg := img.Target.Digest.String(); isDigest(dg) {
		info.ImageDigests = []string{dg}
		if repo := repositoryOf(c.Image); repo != "" {
			info.RepoDigests = []string{repo + "@" + dg}
			// A multi-platform image: bundles may also be attached to
			// the manifest of the platform that runs (looked up for
			// provenance only; image_digest stays the digest pulled).
			if images.IsIndexType(img.Target.MediaType) {
				if pd := platformManifest(ctx, store, img.Target, platform); pd != "" && pd != dg {
					info.RepoDigests = append(info.RepoDigests, repo+"@"+pd)
				}
			}
		}
	} else {
		info.Unresolved = fmt.Sprintf("image %s: target digest %q is not a sha256 digest", c.Image, dg)
	}
	return info, nil
}

// sameChain reports whether a snapshot's parent is the image layer chain
// chain: the chain ID itself, or (user namespace remapping) a copy of it
// named "<chain>-<uid>-<gid>".
func sameChain(parent, chain string) bool {
	return parent == chain || strings.HasPrefix(parent, chain+"-")
}

// maxIndexSize bounds an image index read from containerd's content store.
const maxIndexSize = 4 << 20

// platformManifest returns the digest of the manifest for platform in
// index, "" when it cannot be read or lists none (nested indexes are not
// followed).
func platformManifest(ctx context.Context, store content.Provider, index ocispec.Descriptor, platform platforms.MatchComparer) string {
	if index.Size <= 0 || index.Size > maxIndexSize {
		return ""
	}
	b, err := content.ReadBlob(ctx, store, index)
	if err != nil {
		return ""
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return ""
	}
	for _, m := range idx.Manifests {
		if m.Platform != nil && platform.Match(*m.Platform) && images.IsManifestType(m.MediaType) {
			if d := m.Digest.String(); isDigest(d) {
				return d
			}
		}
	}
	return ""
}
