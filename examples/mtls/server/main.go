// Command server is the server of the mTLS example (examples/mtls): it gets
// its X509-SVID from the SPIRE agent's workload API and serves HTTPS with
// mutual TLS, admitting only clients of its trust domain whose SVID carries
// attestation claims (pkg/claims) that meet its requirements: a container
// image digest (or an executable hash) and a node policy. A client that
// falls short is refused in the TLS handshake; the server logs why.
//
//	server -socket unix:///run/spire/agent.sock -addr 127.0.0.1:8443 \
//	  -image-digest sha256:... -node-policy secureboot
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hwattest/hwattest/pkg/claims"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context) error {
	var digests, policies list
	socket := flag.String("socket", os.Getenv("SPIFFE_ENDPOINT_SOCKET"), "the SPIRE agent's workload API (unix:///path); default $SPIFFE_ENDPOINT_SOCKET")
	addr := flag.String("addr", "127.0.0.1:8443", "the address to serve on")
	flag.Var(&digests, "image-digest", "a container image digest the client must run (repeatable: any of them)")
	exe := flag.String("exe-sha256", "", "the SHA-256 of the executable the client must run (the exe attestor's sha256 selector)")
	flag.Var(&policies, "node-policy", "a tpm node attestor policy the client's node must have passed (repeatable: all of them)")
	fresh := flag.Duration("node-attested-within", 0, "the client's node must have attested this recently (0: no limit)")
	flag.Parse()
	if *socket == "" {
		return errors.New("-socket (or SPIFFE_ENDPOINT_SOCKET) is required")
	}

	// The requirements, in the order they are checked.
	var reqs []claims.Requirement
	if len(digests) > 0 {
		reqs = append(reqs, claims.RequireImageDigest(digests...))
	}
	if *exe != "" {
		reqs = append(reqs, claims.RequireSelector(claims.SubmodWorkload, "exe:sha256:"+*exe))
	}
	for _, p := range policies {
		reqs = append(reqs, claims.RequireNodePolicy(p))
	}
	if *fresh > 0 {
		reqs = append(reqs, claims.RequireNodeAttestedWithin(*fresh))
	}
	if len(reqs) == 0 {
		return errors.New("no requirement: give -image-digest or -exe-sha256, and -node-policy")
	}

	source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(*socket)))
	if err != nil {
		return fmt.Errorf("x509 source: %w", err)
	}
	defer source.Close()
	svid, err := source.GetX509SVID()
	if err != nil {
		return err
	}
	log.Printf("server SVID: %s", svid.ID)

	// Clients of our trust domain, and only those whose claims meet reqs.
	authorize := logged(claims.Authorize(tlsconfig.AuthorizeMemberOf(svid.ID.TrustDomain()), reqs...))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(hello),
		TLSConfig:         tlsconfig.MTLSServerConfig(source, source, authorize),
		ReadHeaderTimeout: 10 * time.Second,
		// The authorizer logs refusals with their reason; net/http's own
		// line for the failed handshake would repeat it.
		ErrorLog: log.New(discard{}, "", 0),
	}
	log.Printf("serving on https://%s/", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hello answers an admitted client with what its SVID proved.
func hello(w http.ResponseWriter, r *http.Request) {
	leaf := r.TLS.PeerCertificates[0]
	// The authorizer decoded and checked these claims in the handshake;
	// decoding again is cheap and keeps the handler on its own.
	c, err := claims.FromCertificate(leaf)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "hello %s\n", leaf.URIs[0])
	fmt.Fprintf(w, "  workload: %s\n", strings.Join(pick(c.Workload, "container:image_digest:", "exe:sha256:"), " "))
	fmt.Fprintf(w, "  node:     %s\n", strings.Join(pick(c.Node, "tpm:policy:", "tpm:secureboot:"), " "))
	if !c.Node.AttestedAt.IsZero() {
		fmt.Fprintf(w, "  node attested at %s (agent %s)\n", c.Node.AttestedAt.Format(time.RFC3339), c.Node.AgentID)
	}
}

// pick returns the selectors of a that start with one of prefixes.
func pick(a *claims.Appraisal, prefixes ...string) []string {
	var out []string
	for _, p := range prefixes {
		for _, v := range a.SelectorValues(p) {
			out = append(out, p+v)
		}
	}
	return out
}

// logged logs every decision of authorize with the peer's SPIFFE ID.
func logged(authorize tlsconfig.Authorizer) tlsconfig.Authorizer {
	return func(id spiffeid.ID, chains [][]*x509.Certificate) error {
		if err := authorize(id, chains); err != nil {
			log.Printf("refused %s: %v", id, err)
			return err
		}
		log.Printf("admitted %s", id)
		return nil
	}
}

// discard drops net/http's error log lines.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
