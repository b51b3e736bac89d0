// Package kubernetes_test runs hwattest's cluster tests against a real
// single-node Kubernetes v1.33.1 cluster (package cluster). They need the
// Kubernetes binaries test/kubernetes/k8s-bin builds; `make test-k8s` builds
// them (once, cached) and runs these tests.
package kubernetes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/test/kubernetes/cluster"
)

// TestClusterRunsPod starts the cluster, runs a pod from an offline image to
// completion, reads its log through the API server (which reaches the
// kubelet over TLS), and checks that stopping the cluster leaves nothing on
// the host.
func TestClusterRunsPod(t *testing.T) {
	c := cluster.Start(t)
	img := c.ImportImage(t, "hwattest.test/hello:1", cluster.ImageOptions{
		Files:      map[string][]byte{"/podbin": c.PodBinary(t)},
		Executable: []string{"/podbin"},
		Entrypoint: []string{"/podbin", "echo"},
		Cmd:        []string{"hello", "from", "hwattest"},
	})
	c.Apply(t, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: hello
  namespace: default
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: hwattest.test/hello:1
    imagePullPolicy: Never
`))
	phase := waitPodDone(t, c, "default", "hello", 2*time.Minute)
	if phase != "Succeeded" {
		t.Fatalf("pod hello ended %s, want Succeeded", phase)
	}
	if got, want := c.Kubectl(t, "logs", "-n", "default", "hello"), "hello from hwattest (pod hello)"; strings.TrimSpace(got) != want {
		t.Errorf("pod log = %q, want %q", got, want)
	}
	// The kubelet reports the image it ran by the digest containerd
	// recorded for the imported image.
	imageID := c.Kubectl(t, "get", "pod", "-n", "default", "hello", "-o", "jsonpath={.status.containerStatuses[0].imageID}")
	if !strings.Contains(imageID, img.Digest) && !strings.Contains(imageID, img.ConfigDigest) {
		t.Errorf("imageID = %q, want it to name %s or %s", imageID, img.Digest, img.ConfigDigest)
	}
	t.Logf("pod hello: %s, imageID %s", phase, imageID)

	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if left := c.Leftovers(); len(left) > 0 {
		t.Errorf("the stopped cluster left on the host:\n%s", strings.Join(left, "\n"))
	}
}

// waitPodDone waits until a pod has succeeded or failed and returns its
// phase.
func waitPodDone(t *testing.T, c *cluster.Cluster, ns, pod string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		phase := c.Kubectl(t, "get", "pod", "-n", ns, pod, "-o", "jsonpath={.status.phase}")
		if phase == "Succeeded" || phase == "Failed" {
			return phase
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s still %q after %v", ns, pod, phase, timeout)
		}
		time.Sleep(time.Second)
	}
}
