package report_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"

	"github.com/hwattest/hwattest/internal/report"
)

// apiServer serves a fakeServer's lists over gRPC, as SPIRE's admin
// socket does.
type apiServer struct {
	agentv1.UnimplementedAgentServer
	entryv1.UnimplementedEntryServer
	f *fakeServer
}

func (s apiServer) ListAgents(ctx context.Context, req *agentv1.ListAgentsRequest) (*agentv1.ListAgentsResponse, error) {
	return s.f.ListAgents(ctx, req)
}

func (s apiServer) ListEntries(ctx context.Context, req *entryv1.ListEntriesRequest) (*entryv1.ListEntriesResponse, error) {
	return s.f.ListEntries(ctx, req)
}

// TestDialSocketForms: the socket an operator types works as a relative
// path (which "unix://"+path turned into an authority gRPC refused), an
// absolute one, and either after "unix:" or "unix://".
func TestDialSocketForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("server", 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "server", "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	api := apiServer{f: &fakeServer{agents: []*types.Agent{{Id: id("/spire/agent/tpm/a"), AttestationType: "tpm"}}}}
	agentv1.RegisterAgentServer(gs, api)
	entryv1.RegisterEntryServer(gs, api)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	abs := filepath.Join(dir, "server", "api.sock")
	for _, socket := range []string{"server/api.sock", "./server/api.sock", abs, "unix:" + abs, "unix://" + abs, "unix:server/api.sock"} {
		t.Run(socket, func(t *testing.T) {
			src, conn, err := report.Dial(socket)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := report.Build(ctx, src, nil, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Nodes) != 1 {
				t.Errorf("nodes %+v", r.Nodes)
			}
		})
	}
	for _, socket := range []string{"unix:", "unix://"} {
		if _, _, err := report.Dial(socket); err == nil {
			t.Errorf("Dial(%q) accepted no path", socket)
		}
	}
}
