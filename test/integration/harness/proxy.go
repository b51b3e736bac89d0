package harness

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP forwarder standing in for the load balancer in front of
// highly available SPIRE servers: Switch sends new connections to another
// backend and closes the open ones, so clients reconnect there. With several
// backends (StartBalancer) it hands new connections to them in turn, as an
// L4 balancer does: a gRPC client's connection stays on one server.
type Proxy struct {
	Port int

	l        net.Listener
	mu       sync.Mutex
	backends []string
	next     int
	conns    map[net.Conn]bool
}

// StartProxy listens on a free port and forwards to backend.
func StartProxy(tb testing.TB, backend string) *Proxy {
	tb.Helper()
	return StartBalancer(tb, backend)
}

// StartBalancer listens on a free port and forwards each new connection to
// the next of backends, round robin.
func StartBalancer(tb testing.TB, backends ...string) *Proxy {
	tb.Helper()
	if len(backends) == 0 {
		tb.Fatal("balancer: no backends")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{Port: l.Addr().(*net.TCPAddr).Port, l: l, backends: backends, conns: map[net.Conn]bool{}}
	go p.serve()
	tb.Cleanup(func() {
		l.Close()
		p.closeAll()
	})
	return p
}

// Switch forwards new connections to backend and drops the open ones.
func (p *Proxy) Switch(backend string) {
	p.mu.Lock()
	p.backends, p.next = []string{backend}, 0
	p.mu.Unlock()
	p.closeAll()
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) serve() {
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		backend := p.backends[p.next%len(p.backends)]
		p.next++
		p.mu.Unlock()
		out, err := net.Dial("tcp", backend)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close() }()
		go func() { io.Copy(in, out); in.Close() }()
	}
}
