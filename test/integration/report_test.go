package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/report"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// Scenario: hwattest report against a real SPIRE server with two agents on
// two swtpm nodes at different levels. level1 needs a genuine TPM (both
// nodes), level2 secure boot on (only the node that sends its boot log). A
// node alias requires level2; a workload under it may run on that node only.
func TestReport(t *testing.T) {
	// 1. Two nodes, each with its own swtpm and EK CA.
	a := newNode(t, swtpmtest.Options{})
	b := newNode(t, swtpmtest.Options{})
	regoPolicy := writeRegoPolicy(t)
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: fmt.Sprintf(`ek_ca_paths = [%q, %q, %q, %q]
policy "level1" {
}
policy "level2" {
  secure_boot = true
}
policy "level1-genuine" {
}
policy "level2-measured-boot" {
  secure_boot = true
}
policy "secureboot-rego" {
  rego_path = %q
  query     = "data.hwattest.allow"
}`, a.tpm.RootCAPath, a.tpm.IssuerCAPath, b.tpm.RootCAPath, b.tpm.IssuerCAPath, regoPolicy)})

	// 2. Node a sends its boot log (secure boot on), node b none.
	harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: a.agentConfig()})
	harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: b.agentConfigLog("-")})

	// 3. A node alias requiring level2, a workload under it, one under node b.
	td := "spiffe://" + harness.TrustDomain
	alias := td + "/node/level2"
	server.CreateEntry(t, td+"/spire/server", alias, "tpm:policy:level2")
	server.CreateEntry(t, alias, td+"/db", fmt.Sprintf("unix:uid:%d", os.Getuid()))
	server.CreateEntry(t, b.agentID(), td+"/web", "unix:uid:0")

	// 4. The report, in process, through the server's admin socket.
	src, conn, err := report.Dial(server.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := report.Build(t.Context(), src, []string{"level1", "level2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())

	// 5. The JSON decodes into the documented schema, nothing more.
	var got report.Report
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	if got.SchemaVersion != report.SchemaVersion || strings.Join(got.Levels, ",") != "level1,level2" {
		t.Errorf("schema_version %d, levels %v", got.SchemaVersion, got.Levels)
	}
	nodes := map[string]report.Node{}
	for _, n := range got.Nodes {
		nodes[n.SPIFFEID] = n
	}
	if len(nodes) != 2 {
		t.Fatalf("%d nodes, want 2: %+v", len(got.Nodes), got.Nodes)
	}
	for _, tc := range []struct {
		n                            *node
		levels, highest, boot, state string
	}{
		{a, "level1,level2", "level2", report.SecureBootEnabled, report.StatusOK},
		{b, "level1", "level1", report.SecureBootUnknown, report.StatusPartial},
	} {
		n, ok := nodes[tc.n.agentID()]
		if !ok {
			t.Errorf("no node %s", tc.n.agentID())
			continue
		}
		if strings.Join(n.Levels, ",") != tc.levels || n.HighestLevel != tc.highest || n.SecureBoot != tc.boot || n.Status != tc.state ||
			n.EKHash != tc.n.ekHash || n.Manufacturer != "id:00001014" || n.AttestationType != "tpm" || !n.CanReattest || n.Banned ||
			n.SVIDExpiresAt == nil || !n.SVIDExpiresAt.After(time.Now()) {
			t.Errorf("node %s: %+v\nwant levels %s, highest %s, secure boot %s, status %s", tc.n.agentID(), n, tc.levels, tc.highest, tc.boot, tc.state)
		}
	}
	workloads := map[string]report.Workload{}
	for _, w := range got.Workloads {
		workloads[w.SPIFFEID] = w
	}
	if w := workloads[td+"/db"]; w.ParentKind != report.ParentAlias || w.RequiredLevel != "level2" || !slices.Equal(w.Nodes, []string{a.agentID()}) {
		t.Errorf("workload db: %+v", w)
	}
	if w := workloads[td+"/web"]; w.ParentKind != report.ParentAgent || w.RequiredLevel != "" || !slices.Equal(w.Nodes, []string{b.agentID()}) {
		t.Errorf("workload web: %+v", w)
	}
	if len(got.NodeAliases) != 1 || got.NodeAliases[0].SPIFFEID != alias || !slices.Equal(got.NodeAliases[0].Nodes, []string{a.agentID()}) {
		t.Errorf("node aliases: %+v", got.NodeAliases)
	}

	// 6. The hwattest binary (built with the plugins from cmd/...) writes
	// the same report as CSV and as an HTML page.
	bin := harness.Plugins(t)["hwattest"].Path
	dir := t.TempDir()
	csvOut, err := exec.Command(bin, "report", "--socket", server.Socket, "--levels", "level1,level2", "--format", "csv").Output()
	if err != nil {
		t.Fatalf("hwattest report --format csv: %v", err)
	}
	for _, want := range []string{
		"node," + a.agentID() + ",,,,tpm," + a.ekHash + ",id:00001014,enabled,ok,level1;level2,level2,",
		"node," + b.agentID() + ",,,,tpm," + b.ekHash + ",id:00001014,unknown,partial,level1,level1,",
		"workload," + td + "/db,",
	} {
		if !strings.Contains(string(csvOut), want) {
			t.Errorf("CSV lacks %q:\n%s", want, csvOut)
		}
	}
	page := filepath.Join(dir, "report.html")
	if out, err := exec.Command(bin, "report", "--socket", server.Socket, "--levels", "level1,level2", "--format", "html", "-o", page).CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("hwattest report --format html: %v\n%s", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), a.agentID()) || strings.Count(string(html), `class="status s-`) != 2 {
		t.Errorf("report.html:\n%s", html)
	}

	// 7. A person opens the page: headless Chromium renders it (scripts
	// run), the rendered nodes table shows both nodes with their status, and
	// a screenshot is taken (HWATTEST_WRITE_SCREENSHOT=1 writes the one in
	// docs/images).
	renderReport(t, page, a.agentID(), b.agentID())

	// 8. The same nodes as OCSF Compliance Findings and as OSCAL assessment
	// results, with the levels of the hwattest levels catalog.
	complianceFormats(t, bin, server.Socket, a.agentID(), b.agentID())
}

// renderReport opens page in headless Chromium, checks the rendered DOM and
// takes a screenshot.
func renderReport(t *testing.T, page string, nodes ...string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		harness.Missing(t, "chromium not found (apt-get install chromium)")
	}
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1600,900"}
	dom, err := exec.Command(chromium, append(flags, "--dump-dom", "file://"+page)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	start := bytes.Index(dom, []byte(`<table class="sortable" id="nodes">`))
	end := bytes.Index(dom[max(start, 0):], []byte("</table>"))
	if start < 0 || end < 0 {
		t.Fatalf("rendered page has no nodes table:\n%s", dom)
	}
	table := string(dom[start : start+end])
	if got := strings.Count(table, "<tr"); got != len(nodes)+1 {
		t.Errorf("rendered nodes table has %d rows, want %d and a header:\n%s", got, len(nodes), table)
	}
	for _, n := range nodes {
		if !strings.Contains(table, n) {
			t.Errorf("rendered nodes table lacks %s", n)
		}
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	if os.Getenv("HWATTEST_WRITE_SCREENSHOT") == "1" {
		shot, _ = filepath.Abs("../../docs/images/report.png")
	}
	if out, err := exec.Command(chromium, append(flags, "--screenshot="+shot, "file://"+page)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10<<10 {
		t.Fatalf("screenshot %s: %d bytes, %v", shot, len(png), err)
	}
}
