package pluginmetrics

import (
	"context"
	"sync"
	"time"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
)

// queueSize bounds the metrics waiting to be sent.
const queueSize = 1024

// sendTimeout bounds one call to the host service.
const sendTimeout = time.Second

// Recorder sends metrics to SPIRE once BrokerHostServices gave it the host
// service; before that (and in tests without one) it drops them. The zero
// value is ready to use.
type Recorder struct {
	once  sync.Once
	mu    sync.RWMutex
	queue chan func(context.Context, metricsv1.MetricsServiceClient)
}

// Broker takes SPIRE's metrics service when the host offers it; call it
// from the plugin's BrokerHostServices.
func (r *Recorder) Broker(broker pluginsdk.ServiceBroker) error {
	var client metricsv1.MetricsServiceClient
	if !broker.BrokerClient(&client) {
		return nil
	}
	r.once.Do(func() {
		q := make(chan func(context.Context, metricsv1.MetricsServiceClient), queueSize)
		go func() {
			for send := range q {
				ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
				send(ctx, client)
				cancel()
			}
		}()
		r.mu.Lock()
		r.queue = q
		r.mu.Unlock()
	})
	return nil
}

// Incr counts one event of key, with labels given as name, value pairs.
func (r *Recorder) Incr(key []string, labels ...string) {
	ls := toLabels(labels)
	r.enqueue(func(ctx context.Context, c metricsv1.MetricsServiceClient) {
		_, _ = c.IncrCounter(ctx, &metricsv1.IncrCounterRequest{Key: key, Val: 1, Labels: ls})
	})
}

// Sample adds a sample of key (a duration in milliseconds, by SPIRE's
// convention), with labels given as name, value pairs.
func (r *Recorder) Sample(key []string, d time.Duration, labels ...string) {
	ls := toLabels(labels)
	ms := float32(d.Seconds() * 1000)
	r.enqueue(func(ctx context.Context, c metricsv1.MetricsServiceClient) {
		_, _ = c.AddSample(ctx, &metricsv1.AddSampleRequest{Key: key, Val: ms, Labels: ls})
	})
}

func (r *Recorder) enqueue(send func(context.Context, metricsv1.MetricsServiceClient)) {
	r.mu.RLock()
	q := r.queue
	r.mu.RUnlock()
	if q == nil {
		return
	}
	select {
	case q <- send:
	default: // SPIRE is behind: drop rather than slow the request
	}
}

func toLabels(pairs []string) []*metricsv1.Label {
	out := make([]*metricsv1.Label, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, &metricsv1.Label{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}
