package report

import (
	"context"
	"fmt"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"

	"github.com/hwattest/hwattest/internal/spireapi"
)

// pageSize is how many agents or entries one call asks for.
const pageSize = 500

// maxPages bounds paging, against a server that keeps returning a token.
const maxPages = 100000

// Source is what the report reads from a SPIRE server: the two calls of its
// API that list agents and registration entries, as the generated clients
// declare them.
type Source interface {
	ListAgents(ctx context.Context, req *agentv1.ListAgentsRequest, opts ...grpc.CallOption) (*agentv1.ListAgentsResponse, error)
	ListEntries(ctx context.Context, req *entryv1.ListEntriesRequest, opts ...grpc.CallOption) (*entryv1.ListEntriesResponse, error)
}

// Dial connects to a SPIRE server's admin socket (its socket_path): a path,
// absolute or relative to the working directory, or the same after "unix:"
// or "unix://" (as gRPC targets write it). The socket is local and
// unauthenticated by design: access to it is access to the server. Close
// the connection when done.
func Dial(socket string) (Source, *grpc.ClientConn, error) {
	c, err := spireapi.Dial(socket)
	if err != nil {
		return nil, nil, fmt.Errorf("report: %w", err)
	}
	return c, c.Conn(), nil
}

// listAgents pages through every agent.
func listAgents(ctx context.Context, src Source) ([]*types.Agent, error) {
	var (
		out   []*types.Agent
		token string
	)
	for range maxPages {
		resp, err := src.ListAgents(ctx, &agentv1.ListAgentsRequest{PageSize: pageSize, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("report: list agents: %w", err)
		}
		out = append(out, resp.GetAgents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("report: list agents: more than %d pages", maxPages)
}

// listEntries pages through every registration entry.
func listEntries(ctx context.Context, src Source) ([]*types.Entry, error) {
	var (
		out   []*types.Entry
		token string
	)
	for range maxPages {
		resp, err := src.ListEntries(ctx, &entryv1.ListEntriesRequest{PageSize: pageSize, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("report: list entries: %w", err)
		}
		out = append(out, resp.GetEntries()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("report: list entries: more than %d pages", maxPages)
}
