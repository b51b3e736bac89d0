package attester

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// DefaultAddress is the kernel's TPM resource manager.
const DefaultAddress = "/dev/tpmrm0"

// maxResponseSize bounds a TPM response (TPM2 responses are at most a few
// KiB; 64 KiB leaves room for any vendor).
const maxResponseSize = 64 << 10

// dialTimeout bounds connecting to a software TPM.
const dialTimeout = 5 * time.Second

// Open opens a TPM by address:
//
//	/dev/tpmrm0, /dev/tpm0       a TPM character device
//	swtpm://127.0.0.1:2321       swtpm's command channel over TCP
//	swtpm+unix:///run/swtpm.sock swtpm's command channel over a unix socket
//
// An empty address means DefaultAddress.
func Open(addr string) (transport.TPMCloser, error) {
	var (
		t   transport.TPMCloser
		err error
	)
	switch {
	case addr == "":
		t, err = openDevice(DefaultAddress)
	case strings.HasPrefix(addr, "swtpm://"):
		t, err = dialStream("tcp", strings.TrimPrefix(addr, "swtpm://"))
	case strings.HasPrefix(addr, "swtpm+unix://"):
		t, err = dialStream("unix", strings.TrimPrefix(addr, "swtpm+unix://"))
	case strings.HasPrefix(addr, "/"):
		t, err = openDevice(addr)
	default:
		return nil, errorf("unsupported TPM address %q (want a device path, swtpm://host:port or swtpm+unix:///path)", addr)
	}
	if err != nil {
		return nil, err
	}
	return Retrying(t), nil
}

// TPM response codes after which the command was not executed and may be
// sent again (TPM 2.0 Part 2, 6.6.3): TPM_RC_RETRY, TPM_RC_YIELDED and
// TPM_RC_TESTING.
const (
	rcYielded = 0x908
	rcTesting = 0x90A
	rcRetry   = 0x922
)

// maxRetries bounds resending one command.
const maxRetries = 10

type retrying struct{ transport.TPMCloser }

// Retrying wraps a TPM so that a command the TPM answered with
// TPM_RC_RETRY, TPM_RC_YIELDED or TPM_RC_TESTING is sent again, with a short
// growing pause (swtpm answers TPM_RC_RETRY to the first use of a fresh EK).
func Retrying(t transport.TPMCloser) transport.TPMCloser { return retrying{t} }

// Send implements transport.TPM.
func (r retrying) Send(cmd []byte) ([]byte, error) {
	for i := 0; ; i++ {
		rsp, err := r.TPMCloser.Send(cmd)
		if err != nil || len(rsp) < 10 || i == maxRetries {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcRetry, rcYielded, rcTesting:
			time.Sleep(time.Duration(i+1) * 5 * time.Millisecond)
		default:
			return rsp, nil
		}
	}
}

func openDevice(path string) (transport.TPMCloser, error) {
	t, err := linuxtpm.Open(path)
	if err != nil {
		return nil, errorf("open %s: %w", path, err)
	}
	return t, nil
}

// stream sends raw TPM commands over one connection to swtpm and reads each
// response whole: the 10-byte header, then the size it announces. go-tpm's
// TCP transport reads a response with a single Read and needs swtpm's
// platform port, and its unix transport redials per command; swtpm serves one
// connection at a time and answers the raw TPM protocol on both channels, so
// one persistent connection with full reads is simpler and robust.
type stream struct {
	mu   sync.Mutex
	conn net.Conn
}

func dialStream(network, addr string) (*stream, error) {
	conn, err := net.DialTimeout(network, addr, dialTimeout)
	if err != nil {
		return nil, errorf("connect to swtpm at %s: %w", addr, err)
	}
	return &stream{conn: conn}, nil
}

// Send implements transport.TPM.
func (s *stream) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, errorf("send TPM command: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.conn, hdr); err != nil {
		return nil, errorf("read TPM response: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponseSize {
		return nil, errorf("TPM response size %d out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.conn, rsp[10:]); err != nil {
		return nil, errorf("read TPM response: %w", err)
	}
	return rsp, nil
}

// Close implements transport.TPMCloser.
func (s *stream) Close() error { return s.conn.Close() }

func errorf(format string, args ...any) error {
	return fmt.Errorf("attester: "+format, args...)
}
