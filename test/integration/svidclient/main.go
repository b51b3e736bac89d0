// Command svidclient is the workload of the integration tests: it asks the
// SPIRE agent's workload API for an X509-SVID again and again and writes the
// latest outcome to a file, "ok <SPIFFE ID>" or "error <message>", until it
// is stopped; with an SVID, it also writes the SVID's leaf certificate (PEM)
// to svid.pem in the same directory. It is built statically (CGO_ENABLED=0) and runs both on the
// host and as the entrypoint of the test images.
//
//	svidclient -socket unix:///spire/workload.sock -out /out/status
package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "svidclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	socket := flag.String("socket", "unix:///spire/workload.sock", "workload API address")
	out := flag.String("out", "/out/status", "file the latest outcome is written to")
	every := flag.Duration("every", 500*time.Millisecond, "time between attempts")
	bench := flag.Int("bench", 0, "measure: this many fetches from each of -sockets, alternating, then write their durations to -out as JSON and exit")
	sockets := flag.String("sockets", "", "comma-separated workload API addresses for -bench")
	flag.Parse()
	if *bench > 0 {
		return measure(ctx, strings.Split(*sockets, ","), *bench, *out)
	}
	for {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		svid, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr(*socket))
		cancel()
		line := ""
		if err != nil {
			line = "error " + strings.ReplaceAll(err.Error(), "\n", " ")
		} else {
			line = "ok " + svid.ID.String()
			leaf := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: svid.Certificates[0].Raw})
			if err := writeAtomic(filepath.Join(filepath.Dir(*out), "svid.pem"), string(leaf)); err != nil {
				return err
			}
		}
		if err := writeAtomic(*out, line+"\n"); err != nil {
			return err
		}
		time.Sleep(*every)
	}
}

// writeAtomic replaces path's contents in one rename, so that a reader
// never sees half a line.
func writeAtomic(path, s string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(s); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// measure fetches an X509-SVID n times from each socket, taking the sockets
// in turn (rotating which goes first) so that the machine's noise falls on
// each alike, after 5 unmeasured fetches each; it writes the durations in
// nanoseconds by socket to out.
func measure(ctx context.Context, sockets []string, n int, out string) error {
	fetch := func(socket string) (time.Duration, error) {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		began := time.Now()
		_, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr(socket))
		return time.Since(began), err
	}
	for _, s := range sockets {
		for range 5 {
			if _, err := fetch(s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
	}
	got := map[string][]int64{}
	for i := range n {
		for j := range sockets {
			s := sockets[(i+j)%len(sockets)]
			d, err := fetch(s)
			if err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			got[s] = append(got[s], d.Nanoseconds())
		}
	}
	b, err := json.Marshal(got)
	if err != nil {
		return err
	}
	return writeAtomic(out, string(b))
}
