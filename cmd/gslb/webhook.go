package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslb/gslb/zones"
)

// webhooks delivers scaling events: a POST of a JSON event to each URL
// the pool's service names, signed with HMAC-SHA256 over the body,
// retried with back-off, from a bounded queue: nothing waits for a
// receiver, least of all the query path. A delivery that still fails
// after its last try is dropped and counted.
type webhooks struct {
	log     *slog.Logger
	secret  atomic.Pointer[[]byte]
	client  *http.Client
	queue   chan delivery
	backoff []time.Duration // waits before the second, third… try
	workers int
	results *prometheus.CounterVec

	// receivers holds each URL's state (*receiver): a URL whose last try
	// failed is tried at most once per failFast and one try at a time;
	// the other deliveries meanwhile fail at once and keep their
	// schedule, so that a receiver that is down or hangs costs one try a
	// second however many events wait for it.
	receivers sync.Map
	failFast  time.Duration
}

// receiver is what the deliveries know of one URL.
type receiver struct {
	failed   atomic.Int64 // when its last try failed (unix ns), 0 if it did not
	inflight atomic.Int32 // tries under way
}

// delivery is one event on its way to one URL.
type delivery struct {
	url, key, event string
	body            []byte
	try             int
}

// webhookEvent is the body of a webhook.
type webhookEvent struct {
	// ID is the idempotency key: the same on every member of a fleet
	// for the same decision, and on every retry.
	ID          string    `json:"id"`
	Type        string    `json:"type"` // scale_out, scale_in
	Service     string    `json:"service"`
	Pool        string    `json:"pool"`
	From        int       `json:"from"`
	To          int       `json:"to"`
	Utilization *float64  `json:"utilization"`
	At          time.Time `json:"at"`
	Member      string    `json:"member,omitempty"` // the fleet member that sent it
}

// Defaults of webhooks.
const (
	webhookQueue   = 1000
	webhookTimeout = 5 * time.Second
	webhookWorkers = 4
)

func newWebhooks(log *slog.Logger, reg prometheus.Registerer) *webhooks {
	w := &webhooks{
		log:      log.With("component", "webhooks"),
		client:   &http.Client{Timeout: webhookTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		queue:    make(chan delivery, webhookQueue),
		backoff:  []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
		workers:  webhookWorkers,
		failFast: time.Second,
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_webhook_deliveries_total",
			Help: "Webhook deliveries of scaling events, by result: delivered (2xx), retried (a try failed, another follows), dropped (the last try failed, or the queue was full).",
		}, []string{"result"}),
	}
	for _, r := range []string{"delivered", "retried", "dropped"} {
		w.results.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(w.results)
	}
	return w
}

// setSecret sets the signing secret.
func (w *webhooks) setSecret(s string) { b := []byte(s); w.secret.Store(&b) }

// sign is the signature header of body: "sha256=" and the hex HMAC.
func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send queues ev for each of urls and returns at once.
func (w *webhooks) Send(ev zones.ScaleEvent, member string, urls []string) {
	e := webhookEvent{ID: ev.Key, Type: ev.Action, Service: ev.Service, Pool: ev.Pool, From: ev.From, To: ev.To, At: ev.At.UTC(), Member: member}
	if !math.IsNaN(ev.Utilization) {
		u := ev.Utilization
		e.Utilization = &u
	}
	body, _ := json.Marshal(e) // plain data: cannot fail
	for _, u := range urls {
		w.enqueue(delivery{url: u, key: ev.Key, event: ev.Action, body: body})
	}
}

// enqueue adds d to the queue, or drops it when the queue is full.
func (w *webhooks) enqueue(d delivery) {
	select {
	case w.queue <- d:
	default:
		w.results.WithLabelValues("dropped").Inc()
		w.log.Warn("webhook dropped: the queue is full", "url", d.url, "id", d.key)
	}
}

// Run delivers until ctx is done.
func (w *webhooks) Run(ctx context.Context) {
	for range w.workers {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-w.queue:
					w.deliver(ctx, d)
				}
			}
		}()
	}
	<-ctx.Done()
}

// deliver makes one try of d, and schedules the next on failure.
func (w *webhooks) deliver(ctx context.Context, d delivery) {
	var err error
	v, _ := w.receivers.LoadOrStore(d.url, new(receiver))
	rc := v.(*receiver)
	at := rc.failed.Load()
	switch {
	case at != 0 && time.Since(time.Unix(0, at)) < w.failFast:
		err = fmt.Errorf("not tried: the receiver failed %v ago", time.Since(time.Unix(0, at)).Round(time.Millisecond))
	case at != 0 && !rc.inflight.CompareAndSwap(0, 1):
		err = errors.New("not tried: the receiver failed, and a try is under way")
	default:
		if at == 0 {
			rc.inflight.Add(1)
		}
		err = w.post(ctx, d)
		rc.inflight.Add(-1)
		if err != nil {
			rc.failed.Store(time.Now().UnixNano())
		} else {
			rc.failed.Store(0)
		}
	}
	if err == nil {
		w.results.WithLabelValues("delivered").Inc()
		w.log.Info("webhook delivered", "url", d.url, "event", d.event, "id", d.key, "try", d.try+1)
		return
	}
	if d.try >= len(w.backoff) || ctx.Err() != nil {
		w.results.WithLabelValues("dropped").Inc()
		w.log.Warn("webhook dropped after its last try", "url", d.url, "event", d.event, "id", d.key, "tries", d.try+1, "err", err)
		return
	}
	w.results.WithLabelValues("retried").Inc()
	wait := w.backoff[d.try]
	w.log.Debug("webhook failed; trying again", "url", d.url, "id", d.key, "in", wait, "err", err)
	d.try++
	time.AfterFunc(wait, func() {
		if ctx.Err() == nil {
			w.enqueue(d)
		}
	})
}

func (w *webhooks) post(ctx context.Context, d delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gslb/"+version)
	req.Header.Set("X-Gslb-Event", d.event)
	req.Header.Set("X-Gslb-Delivery", d.key)
	if s := w.secret.Load(); s != nil {
		req.Header.Set("X-Gslb-Signature", sign(*s, d.body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
