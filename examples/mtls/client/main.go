// Command client is the client of the mTLS example (examples/mtls): it gets
// its X509-SVID from the SPIRE agent's workload API, calls the server over
// mutual TLS, requiring the server's SPIFFE ID, and prints the answer. A
// refusal by the server (its authorizer found the client's attestation claims
// wanting) ends the handshake: the client prints the error and exits 1.
//
//	client -socket unix:///run/spire/agent.sock -server https://127.0.0.1:8443/ \
//	  -server-id spiffe://example.org/mtls/server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// maxBody bounds the server's answer.
const maxBody = 64 << 10

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	socket := flag.String("socket", os.Getenv("SPIFFE_ENDPOINT_SOCKET"), "the SPIRE agent's workload API (unix:///path); default $SPIFFE_ENDPOINT_SOCKET")
	url := flag.String("server", "https://127.0.0.1:8443/", "the server's URL")
	serverID := flag.String("server-id", "", "the server's SPIFFE ID, required of its SVID")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for an SVID and for the call")
	flag.Parse()
	if *socket == "" {
		return errors.New("-socket (or SPIFFE_ENDPOINT_SOCKET) is required")
	}
	id, err := spiffeid.FromString(*serverID)
	if err != nil {
		return fmt.Errorf("-server-id: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(*socket)))
	if err != nil {
		return fmt.Errorf("x509 source: %w", err)
	}
	defer source.Close()
	svid, err := source.GetX509SVID()
	if err != nil {
		return err
	}
	fmt.Printf("client SVID: %s\n", svid.ID)

	tr := &http.Transport{TLSClientConfig: tlsconfig.MTLSClientConfig(source, source, tlsconfig.AuthorizeID(id))}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return err
	}
	fmt.Printf("server answered %s: %s", resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
