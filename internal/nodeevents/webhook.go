package nodeevents

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/hashicorp/go-hclog"

	"github.com/hwattest/hwattest/internal/readfile"
)

// Defaults and bounds of a webhook's settings.
const (
	DefaultQueueSize   = 1024
	MaxQueueSize       = 1 << 16
	DefaultMaxAttempts = 5
	MaxAttempts        = 20
	DefaultTimeout     = 5 * time.Second
	// maxFileSize bounds the CA and token files.
	maxFileSize = 1 << 20
	// maxBackoff caps the wait between two attempts.
	maxBackoff = 30 * time.Second
)

// ContentType is the media type of a structured-mode CloudEvent in JSON.
const ContentType = "application/cloudevents+json"

// WebhookConfig is one `event_webhook "<name>" { ... }` block of a node
// attestor's configuration.
type WebhookConfig struct {
	// URL receives a POST per event: https, or http to a loopback address.
	URL string `hcl:"url"`
	// CAPath is a PEM file of the CAs that sign the webhook's certificate
	// (default: the system's).
	CAPath string `hcl:"ca_path"`
	// BearerTokenPath is a file holding a token sent as "Authorization:
	// Bearer <token>". It is read at configure time and never logged.
	BearerTokenPath string `hcl:"bearer_token_path"`
	// Timeout bounds one POST (default 5s).
	Timeout string `hcl:"timeout"`
	// MaxAttempts bounds the POSTs of one event (default 5; 1 = no retry).
	MaxAttempts int `hcl:"max_attempts"`
	// QueueSize bounds the events waiting (default 1024).
	QueueSize int `hcl:"queue_size"`
}

// Webhook is a validated webhook.
type Webhook struct {
	Name        string
	url         *url.URL
	token       string
	client      *http.Client
	timeout     time.Duration
	maxAttempts int
	queueSize   int
}

// Compile validates the configured webhooks (sorted by name), reading
// their CA and token files, and returns every problem at once.
func Compile(blocks map[string]WebhookConfig) ([]*Webhook, []error) {
	var out []*Webhook
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(blocks)) {
		w, err := compile(name, blocks[name])
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		out = append(out, w)
	}
	return out, errs
}

func compile(name string, c WebhookConfig) (*Webhook, []error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("event_webhook %q: "+format, append([]any{name}, args...)...))
	}
	w := &Webhook{Name: name, timeout: DefaultTimeout, maxAttempts: DefaultMaxAttempts, queueSize: DefaultQueueSize}
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		bad("url is required")
	case err != nil:
		bad("url: %v", err)
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		bad("url %s: plain http only to a loopback address (node states would cross the network in clear); use https", u.Redacted())
	default:
		bad("url %s: want https://host/path", u.Redacted())
	}
	w.url = u
	if c.Timeout != "" {
		if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
			bad("timeout %q: want a positive duration", c.Timeout)
		} else {
			w.timeout = d
		}
	}
	if c.MaxAttempts != 0 {
		if c.MaxAttempts < 1 || c.MaxAttempts > MaxAttempts {
			bad("max_attempts %d: want 1 to %d", c.MaxAttempts, MaxAttempts)
		}
		w.maxAttempts = c.MaxAttempts
	}
	if c.QueueSize != 0 {
		if c.QueueSize < 1 || c.QueueSize > MaxQueueSize {
			bad("queue_size %d: want 1 to %d", c.QueueSize, MaxQueueSize)
		}
		w.queueSize = c.QueueSize
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // node states go to the webhook, not through a proxy the environment names
	if c.CAPath != "" {
		pool := x509.NewCertPool()
		if b, err := readfile.Limited(c.CAPath, maxFileSize); err != nil {
			bad("ca_path: %v", err)
		} else if !pool.AppendCertsFromPEM(b) {
			bad("ca_path %s: no PEM certificate", c.CAPath)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	w.client = &http.Client{Transport: tr, Timeout: w.timeout,
		// A redirect would send the token and the event elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if c.BearerTokenPath != "" {
		b, err := readfile.Limited(c.BearerTokenPath, maxFileSize)
		tok := strings.TrimSpace(string(b))
		switch {
		case err != nil:
			bad("bearer_token_path: %v", err)
		case tok == "" || strings.ContainsAny(tok, "\r\n"):
			bad("bearer_token_path %s: want one line holding the token", c.BearerTokenPath)
		}
		w.token = tok
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return w, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sender delivers one webhook's events, one at a time, in order.
type sender struct {
	w       *Webhook
	log     hclog.Logger
	count   func(webhook, result string)
	queue   chan event.Event
	ctx     context.Context
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	dropped int
}

func startSender(w *Webhook, log hclog.Logger, count func(webhook, result string)) *sender {
	ctx, stop := context.WithCancel(context.Background())
	s := &sender{w: w, log: log, count: count, queue: make(chan event.Event, w.queueSize), ctx: ctx, stop: stop, done: make(chan struct{})}
	go s.run()
	return s
}

// enqueue never blocks: a full queue drops the event.
func (s *sender) enqueue(e event.Event) {
	select {
	case s.queue <- e:
	default:
		s.mu.Lock()
		s.dropped++
		n := s.dropped
		s.mu.Unlock()
		s.count(s.w.Name, "dropped")
		if n == 1 || n%100 == 0 {
			s.log.Warn("Node event dropped: the webhook's queue is full", "webhook", s.w.Name, "type", e.Type(), "subject", e.Subject(), "dropped", n)
		}
	}
}

func (s *sender) run() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case e := <-s.queue:
			s.deliver(e)
		}
	}
}

// deliver POSTs e, retrying with exponential backoff (1s, 2s, 4s, ...
// capped at 30s) until the webhook accepts it (2xx), refuses it for good
// (4xx other than 408 and 429), or the attempts run out.
func (s *sender) deliver(e event.Event) {
	body, err := e.MarshalJSON()
	if err != nil {
		s.log.Error("Node event not encoded", "type", e.Type(), "error", err)
		s.count(s.w.Name, "failed")
		return
	}
	backoff := time.Second
	var lastErr error
	for attempt := 1; attempt <= s.w.maxAttempts; attempt++ {
		retry, err := s.post(body)
		if err == nil {
			s.count(s.w.Name, "delivered")
			return
		}
		lastErr = err
		if !retry || attempt == s.w.maxAttempts {
			break
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	s.count(s.w.Name, "failed")
	s.log.Warn("Node event not delivered", "webhook", s.w.Name, "url", s.w.url.Redacted(), "type", e.Type(), "subject", e.Subject(), "error", lastErr)
}

// post sends one attempt; retry says whether another may succeed.
func (s *sender) post(body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.w.url.String(), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", ContentType)
	if s.w.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.w.token)
	}
	resp, err := s.w.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may hold credentials; the log names it redacted
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return false, fmt.Errorf("webhook answered %s", resp.Status)
	}
}

// close stops the sender; what is still queued is dropped.
func (s *sender) close() {
	s.stop()
	<-s.done
}
