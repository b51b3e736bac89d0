package harness

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP forwarder standing in for the load balancer in front of
// highly available SPIRE servers: Switch sends new connections to another
// backend and closes the open ones, so clients reconnect there.
type Proxy struct {
	Port int

	l       net.Listener
	mu      sync.Mutex
	backend string
	conns   map[net.Conn]bool
}

// StartProxy listens on a free port and forwards to backend.
func StartProxy(tb testing.TB, backend string) *Proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{Port: l.Addr().(*net.TCPAddr).Port, l: l, backend: backend, conns: map[net.Conn]bool{}}
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
	p.backend = backend
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
		backend := p.backend
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
