package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Runtime API types, the values of a runtime block's type.
const (
	// TypeContainerd is containerd's gRPC API.
	TypeContainerd = "containerd"
	// TypeDocker is the Docker Engine API, served by Docker and by
	// podman's compatible service (podman system service).
	TypeDocker = "docker"
)

// errNotFound is what a runtime returns for a container it does not know.
var errNotFound = errors.New("no such container")

// runtime is a container runtime's API as the plugin uses it.
type runtime interface {
	// Inspect returns what the runtime knows about container id, or an
	// error wrapping errNotFound when it does not know it.
	Inspect(ctx context.Context, id string) (containerInfo, error)
	// Close releases the runtime's connections.
	Close() error
}

// containerInfo is what a runtime says about a container.
type containerInfo struct {
	// Image is the image reference the container was created with, as
	// the runtime records it (a tag, a digest reference, or empty).
	Image string
	// ImageID is the image ID ("sha256:<hex>"), empty when unknown.
	ImageID string
	// ImageDigests are the repository digests of the image
	// ("sha256:<hex>"), empty when none could be resolved.
	ImageDigests []string
	// RepoDigests are the image's digests with the repositories they
	// were pulled from or pushed to ("registry/repo@sha256:<hex>"): where
	// provenance bundles are looked for. For a multi-platform image
	// pulled through containerd it also has the host platform's manifest
	// digest, which is not an image_digest.
	RepoDigests []string
	// Namespace is the containerd namespace the container was found in
	// (for logs).
	Namespace string
	// Unresolved says why ImageID or ImageDigests are empty (for logs).
	Unresolved string
	// InitPID is the container's first process (the one the runtime
	// started), as the runtime reports it in its PID namespace (the
	// host's); 0 when the container has no running process. Processes
	// are confirmed to be in the container against it.
	InitPID int
}

// dialFunc makes the client of a runtime of type typ at address (a unix
// socket path). It must not connect yet: the runtime may start after the
// agent.
type dialFunc func(typ, address string) (runtime, error)

// dial is the plugin's dialFunc. Each runtime fails at once while its
// socket does not exist (socketChecked).
func dial(typ, address string) (runtime, error) {
	switch typ {
	case TypeContainerd:
		r, err := newContainerd(address)
		if err != nil {
			return nil, err
		}
		return socketChecked{r, address}, nil
	case TypeDocker:
		return socketChecked{newDocker(address), address}, nil
	default:
		return nil, fmt.Errorf("unknown runtime type %q", typ)
	}
}

// digestPattern is an OCI digest this plugin emits: SHA-256 only, lowercase
// hex, as every runtime and registry writes it.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// isDigest reports whether s is "sha256:" and 64 lowercase hex digits.
func isDigest(s string) bool { return len(s) == 71 && digestPattern.MatchString(s) }

// sortedDigests returns the distinct digests of ds, sorted.
func sortedDigests(ds []string) []string {
	out := slices.Clone(ds)
	slices.Sort(out)
	return slices.Compact(out)
}

// digestOfReference returns the digest of a canonical reference
// ("name@sha256:<hex>"), or "" when ref has none.
func digestOfReference(ref string) string {
	i := strings.LastIndexByte(ref, '@')
	if i < 0 || !isDigest(ref[i+1:]) {
		return ""
	}
	return ref[i+1:]
}

// repositoryOf returns the repository of an image reference
// ("registry/path" with the registry made explicit), "" when ref does not
// parse as one.
func repositoryOf(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().Name()
}

// repoDigests returns the "repository@digest" references of a Docker
// Engine API image's RepoDigests that parse, with sha256 digests.
func repoDigests(imageBody []byte) []string {
	var img dockerImage
	if json.Unmarshal(imageBody, &img) != nil {
		return nil
	}
	var out []string
	for _, rd := range img.RepoDigests {
		dg := digestOfReference(rd)
		if dg == "" {
			continue
		}
		if repo := repositoryOf(rd[:len(rd)-len(dg)-1]); repo != "" {
			out = append(out, repo+"@"+dg)
		}
	}
	return sortedDigests(out)
}
