package integration_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/spireapi"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestAdminAPIOverTCP: how hwattest isolate reads SPIRE when it runs as a
// Deployment, away from the server's admin socket: the server API over TCP
// with the X509-SVID the SPIRE agent gives it. An ID in the server's
// admin_ids lists the agents; another ID of the same process is refused.
func TestAdminAPIOverTCP(t *testing.T) {
	t.Parallel()
	n := newNode(t, swtpmtest.Options{})
	admin, other := "spiffe://"+harness.TrustDomain+"/isolate", "spiffe://"+harness.TrustDomain+"/not-admin"
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig(), ServerExtra: fmt.Sprintf("  admin_ids = [%q]\n", admin)})
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfigLog("-")})
	uid := fmt.Sprintf("unix:uid:%d", os.Getuid())
	server.CreateEntry(t, n.agentID(), admin, uid)
	server.CreateEntry(t, n.agentID(), other, uid)

	listAs := func(id string) ([]string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		source, err := workloadapi.NewX509Source(ctx,
			workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+agent.Socket)),
			workloadapi.WithDefaultX509SVIDPicker(func(svids []*x509svid.SVID) *x509svid.SVID {
				for _, s := range svids {
					if s.ID.String() == id {
						return s
					}
				}
				return svids[0]
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer source.Close()
		// The agent may hand out the entries one sync apart.
		if err := harness.Eventually(45*time.Second, func() error {
			svid, err := source.GetX509SVID()
			if err == nil && svid.ID.String() != id {
				err = fmt.Errorf("SVID %s, want %s", svid.ID, id)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		api, err := spireapi.DialTLS(fmt.Sprintf("127.0.0.1:%d", server.Port), source)
		if err != nil {
			t.Fatal(err)
		}
		defer api.Close()
		resp, err := api.ListAgents(ctx, &agentv1.ListAgentsRequest{})
		var ids []string
		for _, a := range resp.GetAgents() {
			ids = append(ids, "spiffe://"+a.GetId().GetTrustDomain()+a.GetId().GetPath())
		}
		return ids, err
	}
	ids, err := listAs(admin)
	if err != nil || !slices.Contains(ids, n.agentID()) {
		t.Errorf("as the admin ID: agents %v, %v; want %s", ids, err, n.agentID())
	}
	if _, err := listAs(other); status.Code(err) != codes.PermissionDenied {
		t.Errorf("as an ID not in admin_ids: %v, want PermissionDenied", err)
	}
}
