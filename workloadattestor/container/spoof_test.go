package container_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

// Container IDs of the spoofing tests: the attacker's own container (when
// it has one), the victim whose identity it wants, an inner container the
// host's runtime does not know.
var (
	attacker = strings.Repeat("a", 63) + "1"
	victim   = strings.Repeat("b", 63) + "2"
	inner    = strings.Repeat("c", 63) + "3"
	otherPod = "11111111-2222-4333-8444-555555555555"
)

// TestSpoofedCgroup: a workload that may write its cgroup tree (a
// privileged or Docker-in-Docker container, a systemd user session's
// delegated subtree) makes a cgroup named after a victim container, in
// every layout the plugin reads. The runtime knows the victim, whose
// process is in the victim's real cgroup: the attacker's process gets
// PermissionDenied and never the victim's selectors, with the victim in
// its own PID namespace and in the attacker's (--pid=host); the victim's
// own processes, and the attacker's in its real container, are attested.
func TestSpoofedCgroup(t *testing.T) {
	systemdPod := func(uid string) string {
		return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	}
	tests := []struct {
		name string
		// victim's and attacker's container cgroups (attacker "" when the
		// attacker is a host process), and the attacker's process's
		// cgroup file.
		victim, attackerContainer, spoof string
	}{
		{
			name:   "host user in its delegated systemd subtree (cgroup v2)",
			victim: "/system.slice/docker-" + victim + ".scope",
			spoof:  "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + victim + ".scope\n",
		},
		{
			name:   "host user imitating rootless podman",
			victim: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + victim + ".scope/container",
			spoof:  "0::/user.slice/user-1000.slice/user@1000.service/app.slice/libpod-" + victim + ".scope/container\n",
		},
		{
			name:              "Docker in Docker, systemd driver",
			victim:            "/system.slice/docker-" + victim + ".scope",
			attackerContainer: "/system.slice/docker-" + attacker + ".scope",
			spoof:             "0::/system.slice/docker-" + attacker + ".scope/docker-" + victim + ".scope\n",
		},
		{
			name:              "Docker in Docker, cgroupfs driver",
			victim:            "/docker/" + victim,
			attackerContainer: "/docker/" + attacker,
			spoof:             "0::/docker/" + attacker + "/docker/" + victim + "\n",
		},
		{
			name:              "privileged pod, Kubernetes cgroupfs driver",
			victim:            "/kubepods/besteffort/pod" + podUID + "/" + victim,
			attackerContainer: "/kubepods/burstable/pod" + otherPod + "/" + attacker,
			spoof:             "0::/kubepods/burstable/pod" + otherPod + "/" + attacker + "/kubepods/besteffort/pod" + podUID + "/" + victim + "\n",
		},
		{
			name:              "privileged pod, systemd driver, cri-containerd",
			victim:            systemdPod(podUID) + "/cri-containerd-" + victim + ".scope",
			attackerContainer: systemdPod(otherPod) + "/cri-containerd-" + attacker + ".scope",
			spoof:             "0::" + systemdPod(otherPod) + "/cri-containerd-" + attacker + ".scope" + systemdPod(podUID) + "/cri-containerd-" + victim + ".scope\n",
		},
		{
			name:              "CRI-O",
			victim:            systemdPod(podUID) + "/crio-" + victim + ".scope",
			attackerContainer: systemdPod(otherPod) + "/crio-" + attacker + ".scope",
			spoof:             "0::" + systemdPod(otherPod) + "/crio-" + attacker + ".scope/crio-" + victim + ".scope\n",
		},
		{
			name:              "literal systemd-style cgroupsPath",
			victim:            "/kubepods-besteffort-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice:cri-containerd:" + victim,
			attackerContainer: "/docker/" + attacker,
			spoof:             "0::/docker/" + attacker + "/kubepods-besteffort-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice:cri-containerd:" + victim + "\n",
		},
		{
			name:              "podman in podman",
			victim:            "/machine.slice/libpod-" + victim + ".scope/container",
			attackerContainer: "/machine.slice/libpod-" + attacker + ".scope/container",
			spoof:             "0::/machine.slice/libpod-" + attacker + ".scope/container/libpod-" + victim + ".scope\n",
		},
		{
			name:              "containerd namespace path",
			victim:            "/k8s.io/" + victim,
			attackerContainer: "/k8s.io/" + attacker,
			spoof:             "0::/k8s.io/" + attacker + "/k8s.io/" + victim + "\n",
		},
		{
			name:              "cgroup v1: every hierarchy named after the victim",
			victim:            "/docker/" + victim,
			attackerContainer: "/docker/" + attacker,
			spoof:             "2:memory:/docker/" + attacker + "/docker/" + victim + "\n1:name=systemd:/docker/" + attacker + "/docker/" + victim + "\n0::/\n",
		},
		{
			name:   "cgroup v1: only the hierarchy the attacker may write",
			victim: "/docker/" + victim,
			spoof:  "2:memory:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/user@1000.service/docker/" + victim + "\n0::/user.slice\n",
		},
	}
	for _, tt := range tests {
		for _, sharedPIDNS := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/victim shares the PID namespace %v", tt.name, sharedPIDNS), func(t *testing.T) {
				e := newEnv(t)
				rt := e.runtime("/c.sock")
				e.configure(t, `runtime "containerd" { address = "/c.sock" }`)
				victimNS, attackerNS := "victim", "attacker"
				if sharedPIDNS {
					victimNS = attackerNS
				}
				// The victim's cgroup files in the layout of the
				// attacker's (v1 lines where it has them).
				victimCgroup := cgroupLike(tt.spoof, tt.victim)
				victimInit := e.runProcess(t, rt, victim, container.Info{Image: "victim", ImageDigests: []string{digest1}},
					fakeProcess{cgroup: victimCgroup, start: 1, pidNS: victimNS})
				if tt.attackerContainer != "" {
					e.runProcess(t, rt, attacker, container.Info{Image: "attacker", ImageDigests: []string{digest2}},
						fakeProcess{cgroup: cgroupLike(tt.spoof, tt.attackerContainer), start: 1, pidNS: attackerNS})
				}
				e.proc.put(t, 100, fakeProcess{cgroup: tt.spoof, start: 5, pidNS: attackerNS})

				for range 2 { // fetched, then from the cache
					got, err := e.attest(100)
					if slices.Contains(got, "container_id:"+victim) || slices.Contains(got, "image_digest:"+digest1) {
						t.Fatalf("VULNERABLE: the attacker's process got the victim's selectors %q", got)
					}
					if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "not in the container "+victim) {
						t.Fatalf("err = %v, want PermissionDenied: not in the container", err)
					}
				}
				// The victim's processes still are the victim.
				e.proc.put(t, 200, fakeProcess{cgroup: victimCgroup, start: 6, pidNS: victimNS})
				got, err := e.attest(200)
				if err != nil || !slices.Contains(got, "container_id:"+victim) {
					t.Fatalf("the victim's process: %q, %v", got, err)
				}
				_ = victimInit
				if tt.attackerContainer != "" {
					e.proc.put(t, 300, fakeProcess{cgroup: cgroupLike(tt.spoof, tt.attackerContainer+"/init.scope"), start: 7, pidNS: attackerNS})
					got, err := e.attest(300)
					if err != nil || !slices.Contains(got, "container_id:"+attacker) {
						t.Fatalf("the attacker's process in its own cgroup: %q, %v", got, err)
					}
				}
			})
		}
	}
}

// cgroupLike returns a cgroup file with the hierarchies of file, each at
// path, except lines of file at "/" (which stay there).
func cgroupLike(file, path string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(file), "\n") {
		i := strings.LastIndex(l[:strings.Index(l, "/")], ":")
		p := path
		if l[i+1:] == "/" {
			p = "/"
		}
		b.WriteString(l[:i+1] + p + "\n")
	}
	return b.String()
}

// TestSpoofedNamespace: a process moved into the victim's real cgroup (as
// only root may) but in another PID namespace is refused; one in the
// victim's PID namespace too is the victim's (it has entered the victim
// container, as `docker exec` does).
func TestSpoofedNamespace(t *testing.T) {
	e := newEnv(t)
	rt := e.runtime("/c.sock")
	e.configure(t, `runtime "containerd" { address = "/c.sock" }`)
	cgroup := "0::/system.slice/docker-" + victim + ".scope\n"
	init := e.runProcess(t, rt, victim, container.Info{Image: "victim"}, fakeProcess{cgroup: cgroup, start: 1, pidNS: "victim"})
	e.proc.put(t, 100, fakeProcess{cgroup: cgroup, start: 5})
	_, err := e.attest(100)
	wantStatus(t, err, codes.PermissionDenied, fmt.Sprintf("cgroups: pid 100: not in the container %s: in another PID namespace than its process %d", victim, init))
	e.proc.put(t, 100, fakeProcess{cgroup: cgroup, start: 5, pidNS: "victim"})
	e.wantSelectors(t, 100, "container_id:"+victim, "runtime:containerd", "image:victim")
}

// TestSpoofedMounts: the process's cgroup reads "/" and its mounts name a
// victim container. Mounts made in a user namespace other than the agent's
// are not read at all (anyone may make one: unshare -Urm); mounts in the
// agent's user namespace are a claim the victim container's process
// confirms or not (PID and mount namespace).
func TestSpoofedMounts(t *testing.T) {
	e := newEnv(t)
	rt := e.runtime("/c.sock")
	e.configure(t, `runtime "docker" { address = "/c.sock" }`)
	mounts := "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"2 1 8:1 /var/lib/docker/containers/" + victim + "/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
	init := e.runProcess(t, rt, victim, container.Info{Image: "victim"},
		fakeProcess{cgroup: "0::/\n", mountinfo: mounts, start: 1, pidNS: "victim", mntNS: "victim"})

	t.Run("another user namespace: mounts not read, not a container", func(t *testing.T) {
		e.proc.put(t, 100, fakeProcess{cgroup: "0::/\n", mountinfo: mounts, start: 5, userNS: "attacker", mntNS: "attacker"})
		e.wantSelectors(t, 100)
		wantCalls(t, rt, 0)
	})
	t.Run("the agent's user namespace, another PID namespace", func(t *testing.T) {
		e.proc.put(t, 101, fakeProcess{cgroup: "0::/\n", mountinfo: mounts, start: 5, mntNS: "attacker"})
		_, err := e.attest(101)
		wantStatus(t, err, codes.PermissionDenied, fmt.Sprintf("cgroups: pid 101: not in the container %s: in another PID namespace than its process %d", victim, init))
	})
	t.Run("the victim's PID namespace, another mount namespace", func(t *testing.T) {
		e.proc.put(t, 102, fakeProcess{cgroup: "0::/\n", mountinfo: mounts, start: 5, pidNS: "victim", mntNS: "attacker"})
		_, err := e.attest(102)
		wantStatus(t, err, codes.PermissionDenied, fmt.Sprintf("cgroups: pid 102: not in the container %s: its mounts name it, but it is in another mount namespace than its process %d", victim, init))
	})
	t.Run("the victim's own process", func(t *testing.T) {
		e.proc.put(t, 103, fakeProcess{cgroup: "0::/\n", mountinfo: mounts, start: 5, pidNS: "victim", mntNS: "victim"})
		e.wantSelectors(t, 103, "container_id:"+victim, "runtime:docker", "image:victim")
	})
}

// TestNestedContainer: Docker in Docker. The host's runtime knows the
// outer container only. A process of the inner container is not attested
// as the outer one (no fall-back: the inner container is another image
// than the one registered), and not as the inner one either, which no
// configured runtime knows.
func TestNestedContainer(t *testing.T) {
	e := newEnv(t)
	rt := e.runtime("/c.sock")
	e.configure(t, `runtime "docker" { address = "/c.sock" }`)
	outer := "/system.slice/docker-" + attacker + ".scope"
	e.run(t, rt, attacker, container.Info{Image: "dind"}, "0::"+outer+"\n")
	e.proc.put(t, 100, fakeProcess{cgroup: "0::" + outer + "/docker/" + inner + "\n", start: 5, pidNS: "inner"})
	_, err := e.attest(100)
	wantStatus(t, err, codes.NotFound, "container "+inner+`: runtime "docker" does not know it`)
	// The outer container's own processes are attested.
	e.proc.put(t, 101, fakeProcess{cgroup: "0::" + outer + "\n", start: 5})
	e.wantSelectors(t, 101, "container_id:"+attacker, "runtime:docker", "image:dind")
}

// TestContainerProcess: what the runtime says about the container's
// process, and what /proc says about it.
func TestContainerProcess(t *testing.T) {
	e := newEnv(t)
	rt := e.runtime("/c.sock")
	e.configure(t, `runtime "containerd" { address = "/c.sock" }`)
	cgroup := ctrCgroup(victim)
	e.proc.add(t, 100, cgroup, 5)

	t.Run("no running process", func(t *testing.T) {
		rt.set(victim, container.Info{Image: "i"})
		_, err := e.attest(100)
		wantStatus(t, err, codes.PermissionDenied, "container "+victim+`: runtime "containerd" reports no running process: no process is in it`)
	})
	t.Run("its process is gone", func(t *testing.T) {
		rt.set(victim, container.Info{Image: "i", InitPID: 4242})
		_, err := e.attest(100)
		wantStatus(t, err, codes.PermissionDenied, fmt.Sprintf("container %s: runtime \"containerd\" reports process 4242, which is gone: cgroups: pid 4242: open %s/4242: no such file or directory", victim, e.proc.dir))
	})
	t.Run("its process is the workload", func(t *testing.T) {
		rt.set(victim, container.Info{Image: "i", InitPID: 100})
		e.wantSelectors(t, 100, "container_id:"+victim, "runtime:containerd", "image:i")
	})
}
