package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"

	"github.com/hwattest/hwattest/internal/report"
)

// fakeServer is a SPIRE server's agent and entry lists, served one item
// per page so that the report must page.
type fakeServer struct {
	agents  []*types.Agent
	entries []*types.Entry
	err     error
}

func (f *fakeServer) ListAgents(_ context.Context, req *agentv1.ListAgentsRequest, _ ...grpc.CallOption) (*agentv1.ListAgentsResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	items, next := page(f.agents, req.GetPageToken())
	return &agentv1.ListAgentsResponse{Agents: items, NextPageToken: next}, nil
}

func (f *fakeServer) ListEntries(_ context.Context, req *entryv1.ListEntriesRequest, _ ...grpc.CallOption) (*entryv1.ListEntriesResponse, error) {
	items, next := page(f.entries, req.GetPageToken())
	return &entryv1.ListEntriesResponse{Entries: items, NextPageToken: next}, nil
}

func page[T any](all []T, token string) ([]T, string) {
	i := 0
	if token != "" {
		i, _ = strconv.Atoi(token)
	}
	if i >= len(all) {
		return nil, ""
	}
	next := ""
	if i+1 < len(all) {
		next = strconv.Itoa(i + 1)
	}
	return all[i : i+1], next
}

func id(path string) *types.SPIFFEID { return &types.SPIFFEID{TrustDomain: "example.org", Path: path} }

func sels(s ...string) []*types.Selector {
	var out []*types.Selector
	for _, x := range s {
		t, v, _ := strings.Cut(x, ":")
		out = append(out, &types.Selector{Type: t, Value: v})
	}
	return out
}

const (
	hashA = "1111111111111111111111111111111111111111111111111111111111111111"
	hashB = "2222222222222222222222222222222222222222222222222222222222222222"
	hashC = "3333333333333333333333333333333333333333333333333333333333333333"
)

// fixture: node A at level2 (secure boot on), node B at level1 only, node C
// whose SVID expired (level2 when it last attested), a banned join-token
// agent; a node alias requiring level2, a workload under it and one under
// node B whose selector holds markup, and one under node C (which may run
// nowhere now).
func fixture() *fakeServer {
	return &fakeServer{
		agents: []*types.Agent{
			{Id: id("/spire/agent/tpm/" + hashB), AttestationType: "tpm", X509SvidSerialNumber: "22", X509SvidExpiresAt: 1796000000, CanReattest: true,
				Selectors: sels("tpm:pub_hash:"+hashB, "tpm:policy:level1", "tpm:manufacturer:id:00001014")},
			{Id: id("/spire/agent/tpm/" + hashA), AttestationType: "tpm", X509SvidSerialNumber: "11", X509SvidExpiresAt: 1796000000, CanReattest: true,
				Selectors: sels("tpm:pub_hash:"+hashA, "tpm:policy:level1", "tpm:policy:level2", "tpm:policy:audit", "tpm:secureboot:enabled", "tpm:manufacturer:id:00001014")},
			{Id: id("/spire/agent/tpm/" + hashC), AttestationType: "tpm", X509SvidSerialNumber: "33", X509SvidExpiresAt: 1795000000, CanReattest: true,
				Selectors: sels("tpm:pub_hash:"+hashC, "tpm:policy:level1", "tpm:policy:level2", "tpm:secureboot:enabled")},
			{Id: id("/spire/agent/join_token/abc"), AttestationType: "join_token", Banned: true},
		},
		entries: []*types.Entry{
			{Id: "e-alias", SpiffeId: id("/node/level2"), ParentId: id("/spire/server"), Selectors: sels("tpm:policy:level2")},
			{Id: "e-db", SpiffeId: id("/db"), ParentId: id("/node/level2"), Selectors: sels("unix:uid:1000")},
			{Id: "e-web", SpiffeId: id("/web"), ParentId: id("/spire/agent/tpm/" + hashB), Selectors: sels(`docker:label:x=<script>alert("x")</script>`)},
			{Id: "e-batch", SpiffeId: id("/batch"), ParentId: id("/spire/agent/tpm/" + hashC), Selectors: sels("unix:uid:1001")},
			{Id: "e-nested", SpiffeId: id("/nested"), ParentId: id("/db"), Selectors: sels("=cmd|' /C calc'!A0:x")},
		},
	}
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func build(t *testing.T, levels []string) *report.Report {
	t.Helper()
	r, err := report.Build(context.Background(), fixture(), levels, now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r *report.Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestJSON(t *testing.T) {
	got := render(t, build(t, []string{"level1", "level2"}), report.FormatJSON)
	want, err := os.ReadFile("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("JSON report:\n%s\nwant (testdata/report.json):\n%s", got, want)
	}
}

func TestCSV(t *testing.T) {
	got := render(t, build(t, []string{"level1", "level2"}), report.FormatCSV)
	rows, err := csv.NewReader(strings.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("%v:\n%s", err, got)
	}
	want := []string{
		"kind,spiffe_id,entry_id,parent_id,parent_kind,attestation_type,ek_hash,manufacturer,secure_boot,status,levels,highest_level,required_policies,required_level,nodes,selectors,svid_expires_at,banned,can_reattest,level_gaps",
		"node,spiffe://example.org/spire/agent/join_token/abc,,,,join_token,,,unknown,banned,,,,,,,,true,false,",
		"node,spiffe://example.org/spire/agent/tpm/" + hashA + ",,,,tpm," + hashA + ",id:00001014,enabled,ok,level1;level2,level2,,,,tpm:manufacturer:id:00001014;tpm:policy:audit;tpm:policy:level1;tpm:policy:level2;tpm:pub_hash:" + hashA + ";tpm:secureboot:enabled,2026-11-30T00:53:20Z,false,true,",
		"node,spiffe://example.org/spire/agent/tpm/" + hashB + ",,,,tpm," + hashB + ",id:00001014,unknown,partial,level1,level1,,,,tpm:manufacturer:id:00001014;tpm:policy:level1;tpm:pub_hash:" + hashB + ",2026-11-30T00:53:20Z,false,true,",
		"node,spiffe://example.org/spire/agent/tpm/" + hashC + ",,,,tpm," + hashC + ",,enabled,expired,level1;level2,level2,,,,tpm:policy:level1;tpm:policy:level2;tpm:pub_hash:" + hashC + ";tpm:secureboot:enabled,2026-11-18T11:06:40Z,false,true,",
		"node_alias,spiffe://example.org/node/level2,e-alias,,,,,,,,,,level2,,spiffe://example.org/spire/agent/tpm/" + hashA + ",tpm:policy:level2,,,,",
		"workload,spiffe://example.org/batch,e-batch,spiffe://example.org/spire/agent/tpm/" + hashC + ",agent,,,,,,,,,,,unix:uid:1001,,,,",
		"workload,spiffe://example.org/db,e-db,spiffe://example.org/node/level2,alias,,,,,,,,level2,level2,spiffe://example.org/spire/agent/tpm/" + hashA + ",unix:uid:1000,,,,",
		"workload,spiffe://example.org/nested,e-nested,spiffe://example.org/db,other,,,,,,,,,,,'=cmd|' /C calc'!A0:x,,,,",
		"workload,spiffe://example.org/web,e-web,spiffe://example.org/spire/agent/tpm/" + hashB + ",agent,,,,,,,,,,spiffe://example.org/spire/agent/tpm/" + hashB + `,docker:label:x=<script>alert("x")</script>,,,,`,
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), got)
	}
	for i, row := range rows {
		if w := want[i]; strings.Join(row, ",") != w {
			t.Errorf("row %d:\n%s\nwant\n%s", i, strings.Join(row, ","), w)
		}
	}
}

func TestHTML(t *testing.T) {
	got := render(t, build(t, []string{"level1", "level2"}), report.FormatHTML)
	for _, want := range []string{
		"<!DOCTYPE html>",
		`docker:label:x=&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
		`<span class="status s-ok">ok</span>`,
		`<span class="status s-partial">partial</span>`,
		`<span class="status s-banned">banned</span>`,
		`<span class="status s-expired">expired</span>`,
		`<table class="sortable" id="nodes">`,
		"<style>", "<script>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(got, `<script>alert(`) {
		t.Error("HTML holds the selector's markup unescaped")
	}
	for _, external := range []string{"http://", "https://", "//cdn", "<link", " src=", "@import", "url("} {
		if strings.Contains(got, external) {
			t.Errorf("HTML refers to an external asset (%q)", external)
		}
	}
}

func TestTable(t *testing.T) {
	got := render(t, build(t, []string{"level1", "level2"}), report.FormatTable)
	for _, want := range []string{
		"Levels (lowest first): level1, level2\n",
		"spiffe://example.org/spire/agent/tpm/" + hashA + "  ok ",
		"spiffe://example.org/spire/agent/tpm/" + hashC + "  expired ",
		"spiffe://example.org/db      spiffe://example.org/node/level2",
		`NODE ALIAS +REQUIRED POLICIES +NODES +SELECTORS\nspiffe://example.org/node/level2 +level2 +1 +tpm:policy:level2\n`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(got) && !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// TestLevelsFromSelectors: without levels, every policy a node satisfies is
// a level, in name order.
// TestLevelsCumulative: a level counts only when every level below it
// holds. A node with level1 and level3 but not level2 (a level 3 policy
// written without secure_boot, on a node without a boot log) is at level1,
// partial, with level2 named as its gap; one with only level3 is at none.
func TestLevelsCumulative(t *testing.T) {
	f := &fakeServer{agents: []*types.Agent{
		{Id: id("/spire/agent/tpm/" + hashA), AttestationType: "tpm", Selectors: sels("tpm:policy:level1", "tpm:policy:level3")},
		{Id: id("/spire/agent/tpm/" + hashB), AttestationType: "tpm", Selectors: sels("tpm:policy:level3")},
		{Id: id("/spire/agent/tpm/" + hashC), AttestationType: "tpm", Selectors: sels("tpm:policy:level1", "tpm:policy:level2", "tpm:policy:level3")},
	}}
	r, err := report.Build(context.Background(), f, []string{"level1", "level2", "level3"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		hashA: "partial level1 [level2]",
		hashB: "none  [level1 level2]",
		hashC: "ok level3 []",
	}
	for _, n := range r.Nodes {
		if got := fmt.Sprintf("%s %s %v", n.Status, n.HighestLevel, n.LevelGaps); got != want[n.EKHash] && got != want[strings.TrimPrefix(n.SPIFFEID, "spiffe://example.org/spire/agent/tpm/")] {
			t.Errorf("%s: %q, want %q", n.SPIFFEID, got, want[strings.TrimPrefix(n.SPIFFEID, "spiffe://example.org/spire/agent/tpm/")])
		}
	}
	if table := render(t, r, report.FormatTable); !regexp.MustCompile(`partial +level1 +level1,level3 +level2 `).MatchString(table) {
		t.Errorf("the table does not show the gap:\n%s", table)
	}
}

func TestLevelsFromSelectors(t *testing.T) {
	r := build(t, nil)
	if got := strings.Join(r.Levels, ","); got != "audit,level1,level2" {
		t.Errorf("levels %s", got)
	}
	if n := r.Nodes[1]; n.HighestLevel != "level2" || strings.Join(n.Levels, ",") != "audit,level1,level2" {
		t.Errorf("node A: %+v", n)
	}
}

func TestServerError(t *testing.T) {
	f := fixture()
	f.err = errors.New("permission denied")
	_, err := report.Build(context.Background(), f, nil, now)
	if err == nil || err.Error() != "report: list agents: permission denied" || !errors.Is(err, f.err) {
		t.Errorf("error %v", err)
	}
	var b bytes.Buffer
	if err := build(t, nil).Write(&b, "pdf"); err == nil || err.Error() != `report: unknown format "pdf" (want table, json, csv, html, ocsf, oscal)` {
		t.Errorf("error %v", err)
	}
}
