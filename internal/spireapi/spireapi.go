// Package spireapi connects to a SPIRE server's API on its local socket
// (the server's socket_path), for the parts of hwattest that read agents and
// registration entries: the compliance report (internal/report) and the
// attestation credential composer.
package spireapi

import (
	"fmt"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Client holds the agent and entry API clients of one connection.
type Client struct {
	agentv1.AgentClient
	entryv1.EntryClient
	conn *grpc.ClientConn
}

// Dial connects to a SPIRE server's local API socket. The socket is local
// and unauthenticated by design: access to it is access to the server. The
// connection is made lazily; a server that is down fails each call with
// codes.Unavailable. Close the client when done.
func Dial(socket string) (*Client, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("spireapi: dial %s: %w", socket, err)
	}
	return &Client{AgentClient: agentv1.NewAgentClient(conn), EntryClient: entryv1.NewEntryClient(conn), conn: conn}, nil
}

// Conn is the client's connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
