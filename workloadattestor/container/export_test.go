package container

import (
	"time"
)

// Runtime is the plugin's runtime dependency, for fakes.
type Runtime = runtime

// Info is what a runtime says about a container.
type Info = containerInfo

// ErrNotFound is what a Runtime returns for a container it does not know.
var ErrNotFound = errNotFound

// NewForTest returns a plugin that reads proc instead of /proc, makes its
// runtime clients with dial and reads the time from now.
func NewForTest(proc string, dial func(typ, address string) (Runtime, error), now func() time.Time) *Plugin {
	p := New()
	p.proc, p.dial, p.now = proc, dial, now
	return p
}

// CacheLen returns the number of cached containers.
func CacheLen(p *Plugin) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.cache.len()
}

// NewDocker returns the Docker Engine API client of the unix socket.
func NewDocker(socket string) Runtime { return newDocker(socket) }

// ParseDockerContainer and ParseDockerImage are the Docker Engine API
// response readers.
var (
	ParseDockerContainer = parseDockerContainer
	ParseDockerImage     = parseDockerImage
	ParseStartTime       = parseStartTime
)

// NewContainerd returns the containerd API client of the unix socket.
func NewContainerd(socket string) (Runtime, error) { return newContainerd(socket) }

// RepoDigests is the Docker Engine API image answer's repository digests
// reader, for provenance lookups.
var RepoDigests = repoDigests
