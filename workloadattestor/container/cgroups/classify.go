package cgroups

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Runtime names the container runtime whose layout a process's cgroup or
// mounts show.
type Runtime string

// Runtimes.
const (
	// RuntimeUnknown is a container whose layout does not name its runtime:
	// a bare ID under Kubernetes' cgroupfs driver (containerd and
	// cri-dockerd both use /kubepods/<qos>/pod<uid>/<id>) or under a
	// containerd namespace.
	RuntimeUnknown Runtime = ""
	// RuntimeContainerd is containerd: its CRI plugin (cri-containerd-<id>.scope),
	// nerdctl.
	RuntimeContainerd Runtime = "containerd"
	// RuntimeCRIO is CRI-O (crio-<id>.scope).
	RuntimeCRIO Runtime = "cri-o"
	// RuntimeDocker is Docker (docker-<id>.scope, /docker/<id>).
	RuntimeDocker Runtime = "docker"
	// RuntimePodman is podman, libpod (libpod-<id>.scope).
	RuntimePodman Runtime = "podman"
)

// Container is what a process's cgroup or mounts say about its container.
type Container struct {
	// ID is the container ID, 64 lowercase hex digits.
	ID string
	// Runtime is the runtime the layout belongs to.
	Runtime Runtime
	// PodUID is the Kubernetes pod UID with dashes, empty when the layout
	// shows no pod.
	PodUID string
	// FromMounts is set when the process's mounts named the container
	// (its cgroup lines were all "/").
	FromMounts bool
}

var (
	// ErrConflict is returned when lines or mounts name different
	// containers (or pods) and none can be chosen safely.
	ErrConflict = errors.New("conflicting containers")
	// ErrNoContainerID is returned for a process whose mounts show that it
	// runs in a container (a Kubernetes pod's or sandbox's files) while
	// neither its cgroups nor its mounts name the container.
	ErrNoContainerID = errors.New("in a container, but neither its cgroups nor its mounts name the container ID")
)

// link is one container on a cgroup path.
type link struct {
	id      string
	runtime Runtime
	pod     string
}

// chain returns the containers a cgroup path passes through, outermost
// first, each with the pod UID of the pod segment above it.
func chain(path string) []link {
	var (
		out       []link
		pod, prev string
	)
	for seg := range strings.SplitSeq(path, "/") {
		if uid, ok := podSegment(seg); ok {
			pod = uid
		} else if l, ok := containerSegment(prev, seg); ok {
			if l.pod == "" {
				l.pod = pod
			}
			pod = ""
			out = append(out, l)
		}
		prev = seg
	}
	return out
}

// containerPrefix returns the part of cgroup path up to and including its
// last segment that names container id (as chain recognises segments), and
// whether there is one.
func containerPrefix(path, id string) (string, bool) {
	end, prev := -1, ""
	pos := 0
	for seg := range strings.SplitSeq(path, "/") {
		next := pos + len(seg)
		if l, ok := containerSegment(prev, seg); ok && l.id == id {
			end = next
		}
		prev = seg
		pos = next + 1
	}
	if end < 0 {
		return "", false
	}
	return path[:end], true
}

// scopePrefixes are the systemd scope (and cgroupfs) names of containers:
// prefix, runtime, and whether ".scope" is required.
var scopePrefixes = []struct {
	prefix  string
	runtime Runtime
	scope   bool
}{
	{"docker-", RuntimeDocker, true},
	{"cri-containerd-", RuntimeContainerd, true},
	{"crio-", RuntimeCRIO, false},
	{"libpod-", RuntimePodman, false},
	{"nerdctl-", RuntimeContainerd, true},
}

// colonRuntimes are the runtime words of a literal systemd-style
// cgroupsPath ("<slice>:<runtime>:<id>").
var colonRuntimes = map[string]Runtime{
	"cri-containerd": RuntimeContainerd,
	"crio":           RuntimeCRIO,
	"docker":         RuntimeDocker,
	"libpod":         RuntimePodman,
}

// containerSegment recognises a cgroup path segment that is a container.
// prev is the segment before it.
func containerSegment(prev, seg string) (link, bool) {
	if isID(seg) {
		if prev == "docker" {
			return link{id: seg, runtime: RuntimeDocker}, true
		}
		return link{id: seg}, true
	}
	if strings.Count(seg, ":") == 2 {
		parts := strings.Split(seg, ":")
		if !isID(parts[2]) {
			return link{}, false
		}
		pod, _ := podSegment(parts[0])
		return link{id: parts[2], runtime: colonRuntimes[parts[1]], pod: pod}, true
	}
	for _, p := range scopePrefixes {
		rest, ok := strings.CutPrefix(seg, p.prefix)
		if !ok {
			continue
		}
		id, scoped := strings.CutSuffix(rest, ".scope")
		if isID(id) && (scoped || !p.scope) {
			return link{id: id, runtime: p.runtime}, true
		}
	}
	return link{}, false
}

// podSegment recognises a Kubernetes pod cgroup: pod<uid> (cgroupfs) or
// kubepods[-<qos>]-pod<uid>.slice (systemd, dashes of the UID escaped to
// underscores). It returns the UID with dashes.
func podSegment(seg string) (string, bool) {
	var uid string
	if rest, ok := strings.CutPrefix(seg, "pod"); ok {
		uid = rest
	} else if rest, ok := strings.CutSuffix(seg, ".slice"); ok && strings.HasPrefix(rest, "kubepods-") {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 {
			return "", false
		}
		switch rest[:i] {
		case "kubepods", "kubepods-burstable", "kubepods-besteffort":
		default:
			return "", false
		}
		uid = rest[i+len("-pod"):]
	} else {
		return "", false
	}
	return normalizeUID(uid)
}

// normalizeUID checks a UUID whose dashes may be underscores and returns it
// lowercase with dashes.
func normalizeUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' && c != '_' {
				return "", false
			}
			b[i] = '-'
		default:
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				b[i] = c + 'a' - 'A'
			default:
				return "", false
			}
		}
	}
	return string(b), true
}

// isID reports whether s is a container ID: 64 lowercase hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// merge chooses the container from the chains of several cgroup paths: the
// innermost container of the longest chain, provided every container of
// every chain is on it. ok is false when no chain has a container.
func merge(chains [][]link) (Container, bool, error) {
	var longest []link
	for _, c := range chains {
		if len(c) > len(longest) {
			longest = c
		}
	}
	if len(longest) == 0 {
		return Container{}, false, nil
	}
	inner := longest[len(longest)-1]
	out := Container{ID: inner.id, Runtime: inner.runtime, PodUID: inner.pod}
	for _, c := range chains {
		for _, l := range c {
			if !slices.ContainsFunc(longest, func(m link) bool { return m.id == l.id }) {
				return Container{}, false, fmt.Errorf("%w: %s and %s", ErrConflict, inner.id, l.id)
			}
			if l.id != inner.id {
				continue
			}
			// Another hierarchy may show the pod or the runtime of the
			// same container where this one does not.
			if out.Runtime == RuntimeUnknown {
				out.Runtime = l.runtime
			}
			switch {
			case l.pod == "" || l.pod == out.PodUID:
			case out.PodUID == "":
				out.PodUID = l.pod
			default:
				return Container{}, false, fmt.Errorf("%w: container %s in pods %s and %s", ErrConflict, inner.id, out.PodUID, l.pod)
			}
		}
	}
	return out, true, nil
}

// containerFiles are the mount points of the per-container files runtimes
// bind-mount from their state directories.
var containerFiles = []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/run/.containerenv", "/run/secrets", "/dev/termination-log"}

// evidence is what the bind mounts of a mount table show.
type evidence struct {
	// containers are named by their own state directories
	// (containerd image volumes, nerdctl).
	containers []link
	// files are named by the directory the per-container files
	// (/etc/hostname, ...) come from. Under Kubernetes that is the pod
	// sandbox's (cri-dockerd, CRI-O), so they are not used there.
	files []link
	// pods are the kubelet's pod UIDs (/etc/hosts, /dev/termination-log).
	pods []string
	// sandbox is set by a CRI sandbox's files (containerd).
	sandbox bool
}

// add classifies one mount's root.
func (e *evidence) add(m Mount) {
	segs := strings.Split(m.Root, "/")
	file := slices.Contains(containerFiles, m.MountPoint)
	for i := 1; i < len(segs); i++ {
		s, above, prev := segs[i], segs[:i-1], segs[i-1]
		next := ""
		if i+1 < len(segs) {
			next = segs[i+1]
		}
		if uid, ok := normalizeUID(s); ok && prev == "pods" && file && (next == "etc-hosts" || next == "containers") {
			e.pods = append(e.pods, uid)
			return
		}
		if !isID(s) {
			continue
		}
		cri := slices.Contains(above, "io.containerd.grpc.v1.cri")
		switch {
		case cri && prev == "sandboxes" && file:
			e.sandbox = true
		case cri && prev == "containers" && next == "volumes":
			e.containers = append(e.containers, link{id: s, runtime: RuntimeContainerd})
		case i >= 2 && slices.Contains(segs[:i-2], "nerdctl") && (segs[i-2] == "containers" || segs[i-2] == "etchosts") && file:
			e.containers = append(e.containers, link{id: s, runtime: RuntimeContainerd})
		case prev == "overlay-containers" && next == "userdata" && file:
			e.files = append(e.files, link{id: s, runtime: RuntimePodman})
		case !cri && prev == "containers" && file && m.MountPoint == "/etc/"+next:
			e.files = append(e.files, link{id: s, runtime: RuntimeDocker})
		default:
			continue
		}
		return
	}
}

// container chooses from the evidence.
func (e *evidence) container() (Container, bool, error) {
	kube := len(e.pods) > 0 || e.sandbox
	ids := e.containers
	if !kube {
		ids = append(ids, e.files...)
	}
	var pod string
	for _, p := range e.pods {
		if pod != "" && p != pod {
			return Container{}, false, fmt.Errorf("%w: pods %s and %s", ErrConflict, pod, p)
		}
		pod = p
	}
	if len(ids) == 0 {
		switch {
		case pod != "":
			return Container{}, false, fmt.Errorf("pod %s: %w", pod, ErrNoContainerID)
		case kube:
			return Container{}, false, ErrNoContainerID
		}
		return Container{}, false, nil
	}
	for _, l := range ids[1:] {
		if l.id != ids[0].id {
			return Container{}, false, fmt.Errorf("%w: %s and %s", ErrConflict, ids[0].id, l.id)
		}
	}
	return Container{ID: ids[0].id, Runtime: ids[0].runtime, PodUID: pod, FromMounts: true}, true, nil
}
