package spireapi

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Client holds the agent and entry API clients of one connection.
type Client struct {
	agentv1.AgentClient
	entryv1.EntryClient
	conn *grpc.ClientConn
}

// Dial connects to a SPIRE server's local API socket (its socket_path): a
// path, absolute or relative to the working directory, or the same after
// "unix:" or "unix://" (as gRPC targets write it). The socket is local
// and unauthenticated by design: access to it is access to the server. The
// connection is made lazily; a server that is down fails each call with
// codes.Unavailable. Close the client when done.
func Dial(socket string) (*Client, error) {
	target, err := Target(socket)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("spireapi: dial %s: %w", socket, err)
	}
	return &Client{AgentClient: agentv1.NewAgentClient(conn), EntryClient: entryv1.NewEntryClient(conn), conn: conn}, nil
}

// Conn is the client's connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Target turns the socket path an operator typed into a gRPC target:
// "unix://" and the absolute path. "unix://" + a relative path would make
// its first element an authority, which gRPC refuses ("invalid (non-empty)
// authority"), so relative paths are made absolute here.
func Target(socket string) (string, error) {
	path := socket
	if rest, ok := strings.CutPrefix(socket, "unix://"); ok {
		path = rest
	} else if rest, ok := strings.CutPrefix(socket, "unix:"); ok {
		path = rest
	}
	if path == "" {
		return "", fmt.Errorf("spireapi: socket %q: no path", socket)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("spireapi: socket %q: %w", socket, err)
	}
	return "unix://" + abs, nil
}

// SVIDSource is where a TCP client of the API takes its X509-SVID and the
// trust bundle that authenticates the server: a go-spiffe
// workloadapi.X509Source, for one.
type SVIDSource interface {
	x509svid.Source
	x509bundle.Source
}

// DialTLS connects to a SPIRE server's API over TCP (its bind_address and
// bind_port) as an admin workload: mutual TLS with the caller's X509-SVID
// from source, the server authenticated as spiffe://<trust domain>/spire/server
// against source's bundle. The server allows the agent and entry calls when
// the caller's SPIFFE ID is in its admin_ids. This is how a process that does
// not share the server's host (a Kubernetes Deployment) reads it.
func DialTLS(addr string, source SVIDSource) (*Client, error) {
	svid, err := source.GetX509SVID()
	if err != nil {
		return nil, fmt.Errorf("spireapi: own X509-SVID: %w", err)
	}
	serverID, err := spiffeid.FromSegments(svid.ID.TrustDomain(), "spire", "server")
	if err != nil {
		return nil, fmt.Errorf("spireapi: server ID: %w", err)
	}
	tlsConfig := tlsconfig.MTLSClientConfig(source, source, tlsconfig.AuthorizeID(serverID))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return nil, fmt.Errorf("spireapi: dial %s: %w", addr, err)
	}
	return &Client{AgentClient: agentv1.NewAgentClient(conn), EntryClient: entryv1.NewEntryClient(conn), conn: conn}, nil
}
