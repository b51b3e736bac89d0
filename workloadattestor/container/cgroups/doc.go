// Package cgroups tells which container a process runs in, from what the
// kernel shows about it: /proc/PID/cgroup and, when that is not enough,
// /proc/PID/mountinfo. It returns the container ID (64 hex digits), the
// runtime the layout belongs to, and the Kubernetes pod UID when the cgroup
// path shows one; or that the process runs in no container. It asks no
// container runtime anything, so what it returns is what the process
// names, not proof: Confirm checks it against the container's own process
// (the PID its runtime reports), whose cgroup and PID namespace (or mount
// namespace, when mounts named the container) the process must share.
//
// Read takes everything from one handle on /proc/PID (start time, cgroup,
// namespaces, mount table and the start time again), so that a PID reused
// meanwhile fails the read instead of mixing two processes.
//
// # Cgroup paths
//
// Every line of /proc/PID/cgroup (cgroup v1, v2 and the hybrid of both) is
// split into path segments, and each segment is matched exactly against the
// names runtimes give their cgroups:
//
//	docker-<id>.scope                  Docker, systemd driver
//	/docker/<id>                       Docker, cgroupfs driver
//	cri-containerd-<id>.scope          containerd (CRI), systemd driver
//	crio-<id>.scope, crio-<id>         CRI-O, systemd and cgroupfs drivers
//	libpod-<id>.scope, libpod-<id>     podman, systemd and cgroupfs drivers
//	nerdctl-<id>.scope                 containerd (nerdctl)
//	<anything>:<runtime>:<id>          a systemd-style cgroupsPath taken
//	                                   literally by the cgroupfs driver
//	<id>                               Kubernetes' cgroupfs driver
//	                                   (/kubepods/<qos>/pod<uid>/<id>) and
//	                                   containerd namespaces: the runtime is
//	                                   not named (RuntimeUnknown)
//
// Runtime helpers are not containers: libpod-conmon-<id>.scope and
// crio-conmon-<id>.scope hold a container's monitor, which runs on the host.
// The pod UID comes from a pod<uid> segment (cgroupfs) or a
// kubepods[-<qos>]-pod<uid>.slice segment (systemd, where the UID's dashes
// are underscores); it is returned with dashes.
//
// A path can pass through several containers (Kubernetes in Docker, kind):
// the innermost is the process's claim, the one Confirm checks. Lines of different hierarchies
// must agree: each line's containers must all appear in the line with the
// most, or Identify fails rather than guess. A line that shows no container
// (the unified line of a hybrid system still in containerd.service) does not
// contradict one that does.
//
// # Mount roots
//
// When every cgroup line is "/", the process sits at the root of the
// agent's cgroup namespace (the agent runs in the same container, or in a
// nested one) and the cgroup path says nothing. Then, provided the process
// is in the reader's user namespace (anyone may make one and mount there
// what it likes), the mount table is read: first the roots of cgroup mounts (classified as cgroup paths), then
// the roots of the bind mounts runtimes make for each container:
//
//	.../containers/<id>/{hostname,hosts,resolv.conf}          Docker
//	.../overlay-containers/<id>/userdata/...                  podman
//	.../io.containerd.grpc.v1.cri/containers/<id>/volumes/... containerd
//	.../nerdctl/<hash>/{containers,etchosts}/<ns>/<id>/...    nerdctl
//
// Under Kubernetes with containerd or CRI-O, a container's own bind mounts
// come from the kubelet's pod directory and the pod sandbox's directory,
// which name the pod and the sandbox but not the container: Identify then
// fails with ErrNoContainerID.
//
// # Limits
//
// What is read from /proc is bounded (MaxCgroupSize, MaxMountinfoSize);
// the mount table is read only when the cgroup file says nothing.
package cgroups
