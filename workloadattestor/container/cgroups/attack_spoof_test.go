package cgroups_test

// Adversarial review: the container ID is read from names the workload can
// choose. Each test asserts the SECURE behaviour, so it fails while the
// weakness exists.
//
//   go test -run 'TestAttackNested' -v ./workloadattestor/container/cgroups/
//   unshare -C go test -run TestAttackMountinfoRealProcess -v ./workloadattestor/container/cgroups/
//
// Adapted to the fix: a name is only a claim (Identify still returns it,
// since parsing alone cannot tell a real cgroup from one named after a
// victim), and Confirm, which the plugin runs against the process the
// runtime reports for that container, makes the decision. The attacker
// situations are the review's; the assertion is that the attacker's process
// is never accepted as the victim container. The plugin-level versions,
// with a runtime that knows the victim, are in
// workloadattestor/container/spoof_test.go.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

const (
	attackerID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	victimID   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// TestAttackNestedCgroupNamedAfterVictim: a container that can write its
// cgroupfs (privileged, systemd-in-container, Docker-in-Docker, a CI runner)
// runs `mkdir /sys/fs/cgroup/docker-<victim>.scope; echo $$ > .../cgroup.procs`.
// The host agent then reads the path below and attests the VICTIM container
// ("the innermost container wins"), so the runtime returns the victim's image
// digest for the attacker's process.
func TestAttackNestedCgroupNamedAfterVictim(t *testing.T) {
	for _, tt := range []struct{ attacker, victim string }{
		// No container at all: an unprivileged user on a systemd host, in the
		// cgroup subtree systemd delegates to user@UID.service (cgroup v2).
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + victimID + ".scope", "/system.slice/docker-" + victimID + ".scope"},
		{"/system.slice/docker-" + attackerID + ".scope/docker-" + victimID + ".scope", "/system.slice/docker-" + victimID + ".scope"},
		{"/kubepods/burstable/pod11111111-2222-3333-4444-555555555555/" + attackerID + "/" + victimID, "/kubepods/burstable/pod66666666-7777-4888-9999-000000000000/" + victimID},
		{"/machine.slice/libpod-" + attackerID + ".scope/container/libpod-" + victimID + ".scope", "/machine.slice/libpod-" + victimID + ".scope/container"},
	} {
		c, ok, err := cgroups.Identify([]byte("0::"+tt.attacker+"\n"), nil)
		t.Logf("%s -> %+v ok=%v err=%v", tt.attacker, c, ok, err)
		attacker := process(t, 100, "0::"+tt.attacker+"\n", cgroups.NS{Ino: 1})
		// The victim's own process (the PID its runtime reports), in a PID
		// namespace of its own or, with --pid=host, in the attacker's.
		for _, pidNS := range []cgroups.NS{{Ino: 2}, {Ino: 1}} {
			victim := process(t, 200, "0::"+tt.victim+"\n", pidNS)
			err := cgroups.Confirm(attacker, c, victim)
			if ok && c.ID == victimID && err == nil {
				t.Errorf("VULNERABLE: the attacker's process is attested as container %s", c.ID)
			}
			// The victim's own processes still are.
			exec := process(t, 201, "0::"+tt.victim+"/init.scope\n", pidNS)
			vc, _, _ := cgroups.Identify([]byte("0::"+tt.victim+"/init.scope\n"), nil)
			if err := cgroups.Confirm(exec, vc, victim); vc.ID != victimID || err != nil {
				t.Errorf("the victim's own process: %+v, %v", vc, err)
			}
		}
	}
}

// process is a snapshot with the given cgroup file and PID namespace.
func process(t *testing.T, pid int, cgroup string, pidNS cgroups.NS) *cgroups.Process {
	t.Helper()
	p, err := cgroups.NewProcess(pid, []byte(cgroup), nil, pidNS, cgroups.NS{Ino: 9})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAttackMountinfoRealProcess: where a process's cgroup reads "/" from
// the agent (the agent in a container with its own cgroup namespace and the
// workload in the same cgroup; a host without systemd), the container is
// read from bind-mount roots. An UNPRIVILEGED user makes one in its own user
// and mount namespace (unshare -Urm): a file under .../containers/<victim>/
// bind-mounted on /etc/hostname. Run under `unshare -C` so that this test's
// cgroups read "/".
func TestAttackMountinfoRealProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasSuffix(l, ":/") {
			t.Skipf("cgroup line %q is not /: run under `unshare -C`", l)
		}
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	dir, err := os.MkdirTemp("/tmp", "spoof")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	script := `set -e
d=` + dir + `/containers/` + victimID + `
mkdir -p $d && touch $d/hostname
mount --bind $d/hostname /etc/hostname
echo ready > ` + dir + `/ready
exec sleep 30`
	// As nobody: no privilege on the host is needed.
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "unshare", "-Urm", "sh", "-c", script)
	out, _ := os.Create(filepath.Join(dir, "out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if i > 100 {
			o, _ := os.ReadFile(filepath.Join(dir, "out"))
			t.Fatalf("attacker did not start: %s", o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, ok, err := cgroups.Find("/proc", cmd.Process.Pid)
	t.Logf("unprivileged pid %d -> %+v ok=%v err=%v", cmd.Process.Pid, c, ok, err)
	if ok && c.ID == victimID {
		t.Errorf("VULNERABLE: an unprivileged process is attested as Docker container %s", c.ID)
	}

	// The user namespace check aside, the mounts' claim is still refused
	// by Confirm: the victim container's process (here a process in a PID
	// and mount namespace of its own, as a container's) is elsewhere.
	attacker, err := cgroups.Read("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cgroup, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	mountinfo, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/mountinfo")
	claim, ok, err := cgroups.Identify(cgroup, mountinfo)
	if !ok || claim.ID != victimID || err != nil {
		t.Fatalf("the attacker's mounts name %+v, %v, %v; want the victim (the attack did not work)", claim, ok, err)
	}
	victim := exec.Command("unshare", "--pid", "--mount", "--fork", "--kill-child", "sleep", "30")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.Process.Kill(); victim.Wait() })
	init, err := cgroups.Read("/proc", childOf(t, victim.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if err := cgroups.Confirm(attacker, claim, init); err == nil {
		t.Errorf("VULNERABLE: an unprivileged process is confirmed in container %s", claim.ID)
	} else {
		t.Logf("refused: %v", err)
	}
}

// childOf waits for the first child of pid and returns its PID.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	path := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children"
	for i := 0; i < 200; i++ {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			child, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatal(err)
			}
			return child
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("pid %d has no child", pid)
	return 0
}
