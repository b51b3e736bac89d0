package kubernetes_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/internal/nodeevents"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/test/kubernetes/cluster"
)

// bootLog is a real machine's UEFI boot log with secure boot on (keylime's
// test data, pkg/tpmquote/testdata/NOTICE).
const bootLog = "../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"

// bootReplay plays the node's firmware: it extends the recorded boot log
// into swtpm's PCRs (examples/quickstart/bootreplay) after each power-on,
// and keeps the log where the agent reads it (securityfs/tpm0 stands for
// /sys/kernel/security/tpm0).
type bootReplay struct {
	tpm      *swtpmtest.TPM
	bin, log string
}

func newBootReplay(t *testing.T, c *cluster.Cluster, tpm *swtpmtest.TPM, bin []byte, securityfs string) *bootReplay {
	t.Helper()
	b := &bootReplay{tpm: tpm, bin: filepath.Join(c.Dir, "bootreplay"), log: filepath.Join(securityfs, "tpm0", "binary_bios_measurements")}
	raw, err := os.ReadFile(bootLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(b.log), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.log, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.bin, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// replay extends the log into the PCRs; swtpm serves one connection at a
// time, so it waits while the agent's plugin holds it.
func (b *bootReplay) replay(t *testing.T) {
	t.Helper()
	waitFor(t, "the boot log replayed into swtpm", func() error {
		out, err := exec.Command(b.bin, "-tpm", b.tpm.Addr, "-log", b.log).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

// reboot power-cycles swtpm (PCRs back to zero, keys kept) and replays the
// good boot log, as the firmware of a rebooted machine would.
func (b *bootReplay) reboot(t *testing.T) {
	t.Helper()
	if err := b.tpm.Restart(); err != nil {
		t.Fatal(err)
	}
	b.replay(t)
}

// extend measures something the boot log does not record into PCR 7: the
// node no longer is in the state it attested.
func (b *bootReplay) extend(t *testing.T, what string) {
	t.Helper()
	var tpm transport.TPMCloser
	waitFor(t, "swtpm opened", func() (err error) {
		tpm, err = attester.Open(b.tpm.Addr)
		return err
	})
	defer tpm.Close()
	sum := sha256.Sum256([]byte(what))
	tpmtest.ExtendPCR(t, tpm, tpm2.TPMAlgSHA256, 7, sum[:])
}

// isolationTaint is the taint hwattest isolate sets by default.
const isolationTaint = "hwattest.io/attestation=failed:NoExecute"

// testIsolation runs the isolation loop on a cluster where SPIRE runs from
// the test overlay (hwattest isolate beside the server in enforce mode,
// requiring policy secureboot) and agentID has attested: the node is bound
// to its agent, its PCR 7 drifts, the agent's next re-attestation is
// refused, the tpm plugin posts the refusal to hwattest isolate, which
// taints the node and records the refusal; the pods there are evicted and
// their replacements stay pending. A reboot with the good boot log lets
// the agent attest again, and the taint and the record go.
func testIsolation(t *testing.T, c *cluster.Cluster, boot *bootReplay, agentID string) {
	node := c.Kubectl(t, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
	isolateLogs := func() string {
		out, _ := kubectl(c, "logs", "-n", "spire", "spire-server-0", "-c", "hwattest-isolate")
		return out
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("==== hwattest isolate's log ====\n%s", isolateLogs())
		}
	})
	// --once in report-only mode, a new process: SPIRE's view of the node
	// and the refusals the running controller recorded, without its events.
	once := func() string {
		out, _ := kubectl(c, "exec", "-n", "spire", "spire-server-0", "-c", "hwattest-isolate", "--",
			"/hwattest", "isolate", "--socket=/tmp/spire-server/private/api.sock", "--require-policy=secureboot",
			"--state-configmap=spire/hwattest-isolate-state", "--mode=report-only", "--once")
		return out
	}
	state := func() string {
		out, _ := kubectl(c, "get", "configmap", "-n", "spire", "hwattest-isolate-state", "-o", "jsonpath={.data}")
		return out
	}

	// The operator binds each node to its agent (`hwattest ek` prints the
	// ID) in a ConfigMap no node can write.
	c.Kubectl(t, "create", "configmap", "-n", "spire", "hwattest-isolate-nodes", "--from-literal="+node+"="+agentID)
	out := once()
	if want := node + " " + agentID + " healthy false attested"; onceRow(out) != want {
		t.Fatalf("hwattest isolate --once before the drift:\n%s\nwant the row %q", out, want)
	}
	t.Logf("$ kubectl exec -n spire spire-server-0 -c hwattest-isolate -- /hwattest isolate ... --once\n%s", out)

	c.Apply(t, []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: hello
          image: %s
          imagePullPolicy: Never
`, cluster.PauseImage)))
	var before string
	waitFor(t, "the hello pod running", func() (err error) {
		before, err = podInPhase(c, "Running")
		return err
	})

	// Drift, then the refused re-attestation at the agent's next rotation
	// (agent_ttl 1m in the test overlay: within 30 s).
	drifted := time.Now()
	boot.extend(t, "an unexpected boot component")
	waitFor(t, "the node tainted", func() error {
		if taints := nodeTaints(c, node); !strings.Contains(taints, isolationTaint) {
			return fmt.Errorf("taints %q", taints)
		}
		return nil
	})
	t.Logf("node %s tainted %v after the PCR 7 extension", node, time.Since(drifted).Round(time.Second))
	logs := isolateLogs()
	for _, want := range []string{
		`Node event received: type=` + nodeevents.TypeRefused + ` agent_id=` + agentID,
		`Node tainted: its agent failed attestation: node=` + node,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("hwattest isolate's log lacks %q", want)
		}
	}
	// The refusal outlives the controller's memory: a new process reads
	// it from the state ConfigMap while the agent holds the SVID it was
	// refused with.
	if out := once(); !strings.HasPrefix(onceRow(out), node+" "+agentID+" failed true refused at ") || !strings.Contains(out, "(eventlog_replay)") {
		t.Errorf("hwattest isolate --once after the refusal:\n%s", out)
	} else {
		t.Logf("$ kubectl exec -n spire spire-server-0 -c hwattest-isolate -- /hwattest isolate ... --once\n%s", out)
	}
	if st := state(); !strings.Contains(st, node) || !strings.Contains(st, agentID) {
		t.Errorf("state ConfigMap after the refusal: %s", st)
	} else {
		t.Logf("$ kubectl get configmap -n spire hwattest-isolate-state -o jsonpath={.data}\n%s", st)
	}
	server, _ := kubectl(c, "logs", "-n", "spire", "spire-server-0", "-c", "spire-server")
	t.Logf("the SPIRE server's log of the refusal:\n%s", grepLines(server, "hwattest-tpm", "refused", "lost policies"))
	// NoExecute: the pod is evicted, and its replacement cannot land.
	waitFor(t, "the hello pod evicted and its replacement pending", func() error {
		pending, err := podInPhase(c, "Pending")
		if err != nil {
			return err
		}
		if pending == before {
			return fmt.Errorf("pod %s is the one that ran", pending)
		}
		cond := c.Kubectl(t, "get", "pod", "-n", "default", pending, "-o", `jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}`)
		if !strings.Contains(cond, "hwattest.io/attestation") {
			return fmt.Errorf("pod %s pending: %q", pending, cond)
		}
		t.Logf("pod %s evicted; its replacement %s pending: %s", before, pending, cond)
		return nil
	})
	if out, err := kubectl(c, "get", "pods", "-n", "default", "-l", "app=hello"); err == nil {
		t.Logf("$ kubectl get pods -l app=hello\n%s", out)
	}
	if out, err := kubectl(c, "get", "events", "-n", "default", "--field-selector", "involvedObject.name="+before); err == nil {
		t.Logf("$ kubectl get events --field-selector involvedObject.name=%s\n%s", before, out)
	}

	// The machine reboots into its known state: the agent attests again
	// and the node comes back.
	restored := time.Now()
	boot.reboot(t)
	waitFor(t, "the node untainted", func() error {
		if taints := nodeTaints(c, node); strings.Contains(taints, "hwattest.io/attestation") {
			return fmt.Errorf("taints %q", taints)
		}
		return nil
	})
	t.Logf("node %s untainted %v after the reboot with the good boot log", node, time.Since(restored).Round(time.Second))
	if logs := isolateLogs(); !strings.Contains(logs, `Node untainted: its agent attests again: node=`+node) {
		t.Errorf("hwattest isolate's log lacks the untaint:\n%s", logs)
	}
	waitFor(t, "a hello pod running again", func() error {
		_, err := podInPhase(c, "Running")
		return err
	})
	if out, want := once(), node+" "+agentID+" healthy false attested"; onceRow(out) != want {
		t.Errorf("hwattest isolate --once after the reboot:\n%s\nwant the row %q", out, want)
	}
	if st := state(); st != "" && st != "{}" {
		t.Errorf("state ConfigMap after the reboot: %s, want it empty", st)
	}
	t.Logf("hwattest isolate's log:\n%s", grepLines(isolateLogs(), "Node "))
}

// onceRow is the one node's row of `hwattest isolate --once`, its columns
// joined by one space.
func onceRow(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return ""
	}
	return strings.Join(strings.Fields(lines[1]), " ")
}

// podInPhase returns the name of the one hello pod in phase.
func podInPhase(c *cluster.Cluster, phase string) (string, error) {
	out, err := kubectl(c, "get", "pods", "-n", "default", "-l", "app=hello", "--field-selector", "status.phase="+phase,
		"-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return "", err
	}
	if names := strings.Fields(out); len(names) != 1 {
		return "", fmt.Errorf("hello pods %s: %q", phase, out)
	}
	return out, nil
}

func nodeTaints(c *cluster.Cluster, node string) string {
	out, _ := kubectl(c, "get", "node", node, "-o", `jsonpath={range .spec.taints[*]}{.key}={.value}:{.effect} {end}`)
	return out
}

// grepLines returns the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
