package integration_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestFetchCost measures what a workload feels: X509-SVID fetches through
// real spire-agents from a process inside a real container (containerd,
// runc), one agent per configuration, all in one run, the fetches
// alternating between the agents: SPIRE's unix attestor alone, unix + our
// container attestor, unix + container with a provenance policy; each with
// the agent at log level DEBUG (as the other integration tests run it) and
// INFO. It reports medians and ratios against unix alone; it asserts
// nothing about time.
//
//	HWATTEST_BENCH=1 go test -run TestFetchCost -v ./test/integration/
func TestFetchCost(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to measure")
	}
	const fetches = 300
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	w := newProvenanceWorld(t)
	var sockets []string
	for i := range 6 {
		sockets = append(sockets, fmt.Sprintf("unix:///spire%d/workload.sock", i))
	}
	img := containertest.Build(t, containertest.ImageOptions{
		Files:      map[string][]byte{"/svidclient": containertest.ReadFile(t, svidClient(t))},
		Executable: []string{"/svidclient"},
		Dirs:       []string{"/spire0", "/spire1", "/spire2", "/spire3", "/spire4", "/spire5", "/out", "/tmp"},
		Entrypoint: []string{"/svidclient"},
		Cmd:        []string{"-bench", fmt.Sprint(fetches), "-sockets", strings.Join(sockets, ","), "-out", "/out/bench.json"},
	})
	ref := reg.Push(t, img, "bench:v1")
	w.attach(t, reg, "bench", img, provenancetest.GitHub("org/app"))
	ctrd.Pull(t, "k8s.io", ref)

	n := newNode(t, swtpmtest.Options{}) // the server's tpm attestor needs a CA; the agents use join tokens
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig(), ExtraPlugins: "  NodeAttestor \"join_token\" {\n    plugin_data {}\n  }\n"})
	ctr := harness.Plugins(t)["workloadattestor-container"]
	plugin := func(data string) string {
		return fmt.Sprintf("  WorkloadAttestor \"container\" {\n    plugin_cmd      = %q\n    plugin_checksum = %q\n    plugin_data {\n%s\n    }\n  }\n",
			ctr.Path, ctr.Checksum, data)
	}
	runtime := fmt.Sprintf("    runtime \"containerd\" {\n      address = %q\n    }\n", ctrd.Socket)
	type variant struct {
		name, plugins, selector, level string
	}
	// The container plugin started through env(1) with GOMAXPROCS=1: one
	// thread runs the plugin's Go code, so a call wakes no second thread.
	env := "/usr/bin/env"
	envSum := sha256File(t, env)
	pluginOneProc := fmt.Sprintf("  WorkloadAttestor \"container\" {\n    plugin_cmd      = %q\n    plugin_args     = [\"GOMAXPROCS=1\", %q]\n    plugin_checksum = %q\n    plugin_data {\n%s\n    }\n  }\n",
		env, ctr.Path, envSum, runtime)
	variants := []variant{
		{"unix", "", "unix:uid:0", "DEBUG"},
		{"unix+container", plugin(runtime), "container:image_digest:" + img.Digest, "DEBUG"},
		{"unix+container+provenance", plugin(runtime + w.policy("")), "container:provenance:ci", "DEBUG"},
		{"unix", "", "unix:uid:0", "INFO"},
		{"unix+container", plugin(runtime), "container:image_digest:" + img.Digest, "INFO"},
		{"unix+container GOMAXPROCS=1", pluginOneProc, "container:image_digest:" + img.Digest, "INFO"},
	}
	binds := map[string]string{}
	var metricsPorts []int
	for i, v := range variants {
		agentID := fmt.Sprintf("spiffe://%s/bench/agent%d", harness.TrustDomain, i)
		out := server.MustCLI(t, "token", "generate", "-spiffeID", agentID)
		token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Token:"))
		metricsPorts = append(metricsPorts, harness.FreePort(t))
		a := harness.StartAgent(t, harness.AgentConfig{Server: server, JoinToken: token, ExtraPlugins: v.plugins, LogLevel: v.level,
			TopLevel: fmt.Sprintf("telemetry {\n  Prometheus {\n    host = \"127.0.0.1\"\n    port = %d\n  }\n}\n", metricsPorts[i])})
		server.CreateEntry(t, agentID, fmt.Sprintf("spiffe://%s/bench/workload%d", harness.TrustDomain, i), v.selector)
		binds[filepath.Dir(a.Socket)] = fmt.Sprintf("/spire%d", i)
	}
	outDir := harness.Dir(t)
	binds[outDir] = "/out"
	// Entries reach the agents within a few seconds; the client's warm-up
	// fetches fail until then, so retry the container until it succeeds.
	var raw []byte
	err := harness.Eventually(90*time.Second, func() error {
		ctrd.Run(t, containertest.RunOptions{Namespace: "k8s.io", Image: ref, ID: randomHex(t), Binds: binds})
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(filepath.Join(outDir, "bench.json")); err == nil {
				raw = b
				return nil
			}
			time.Sleep(500 * time.Millisecond)
			if running := ctrd.Ctr(t, "k8s.io", "tasks", "ls"); !strings.Contains(running, "RUNNING") {
				return fmt.Errorf("the benchmark container stopped before writing its results")
			}
		}
		return fmt.Errorf("no results")
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]int64
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	median := func(i int) time.Duration {
		d := slices.Clone(got[sockets[i]])
		slices.Sort(d)
		return time.Duration(d[len(d)/2])
	}
	p90 := func(i int) time.Duration {
		d := slices.Clone(got[sockets[i]])
		slices.Sort(d)
		return time.Duration(d[len(d)*9/10])
	}
	// The agents' own view (SPIRE's telemetry, medians over the run): the
	// whole workload attestation (attestors run in parallel) and each
	// attestor's call (for ours: the go-plugin gRPC round trip included).
	for i, v := range variants {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPorts[i]))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var lines []string
		for _, l := range strings.Split(string(body), "\n") {
			if strings.Contains(l, `quantile="0.5"`) && (strings.Contains(l, "workload_attest") || strings.Contains(l, "fetch_x509")) {
				lines = append(lines, l)
			}
		}
		t.Logf("%s %s agent telemetry (seconds):\n  %s", v.level, v.name, strings.Join(lines, "\n  "))
	}
	for i, v := range variants {
		base := i - i%3
		t.Logf("%-5s %-26s median %8v p90 %8v  median/unix %.2fx (+%v)", v.level, v.name, median(i).Round(time.Microsecond), p90(i).Round(time.Microsecond),
			float64(median(i))/float64(median(base)), (median(i) - median(base)).Round(time.Microsecond))
	}
}
