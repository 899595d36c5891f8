package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/scale"
)

func testEvent() zones.ScaleEvent {
	return zones.ScaleEvent{Event: scale.Event{Action: scale.ScaleOut, From: 2, To: 3, Utilization: 0.81, At: time.Unix(1_800_000_000, 0)}, Service: "api.example.test", Pool: "default", Key: "0123456789abcdef"}
}

// TestWebhookSigned: a delivery carries the event, its idempotency key
// and a signature the receiver can check with the shared secret.
func TestWebhookSigned(t *testing.T) {
	const secret = "webhook-secret-0123456789"
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer srv.Close()
	w := newWebhooks(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w.setSecret(secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	w.Send(testEvent(), "ns1", []string{srv.URL + "/hook"})
	r, body := <-got, <-bodies
	if r.Method != "POST" || r.URL.Path != "/hook" || r.Header.Get("X-Gslb-Event") != "scale_out" || r.Header.Get("X-Gslb-Delivery") != "0123456789abcdef" {
		t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	if sig := r.Header.Get("X-Gslb-Signature"); sig != sign([]byte(secret), body) || sign([]byte("another secret"), body) == sig {
		t.Errorf("signature %q", sig)
	}
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != "0123456789abcdef" || ev.Type != "scale_out" || ev.From != 2 || ev.To != 3 || ev.Member != "ns1" || ev.Utilization == nil || *ev.Utilization != 0.81 {
		t.Errorf("body %s: %v", body, err)
	}
	waitFor(t, "delivered counted", time.Second, func() bool { return testutil.ToFloat64(w.results.WithLabelValues("delivered")) == 1 })
}

// TestWebhookDownOrSlow: deliveries to a receiver that refuses
// connections, answers 500 or hangs keep their schedule of tries and are
// then dropped and counted, but a receiver that failed is not tried again
// within a second (the four workers' first tries aside): 30 events cost
// it a few requests, not 90. Send never waits. A receiver back up gets
// the deliveries once its second is over.
func TestWebhookDownOrSlow(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	var mu sync.Mutex
	tries := map[string]int{}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries["500"]++
		mu.Unlock()
		http.Error(w, "no", 500)
	}))
	defer failing.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries["slow"]++
		mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	w := newWebhooks(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w.client.Timeout = 200 * time.Millisecond
	w.backoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	start := time.Now()
	for range 30 {
		w.Send(testEvent(), "", []string{down, failing.URL, slow.URL})
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("90 sends took %v", d)
	}
	waitFor(t, "every delivery dropped", 30*time.Second, func() bool { return testutil.ToFloat64(w.results.WithLabelValues("dropped")) == 90 })
	mu.Lock()
	defer mu.Unlock()
	if tries["500"] < 1 || tries["500"] > 4 || tries["slow"] < 1 || tries["slow"] > 4 {
		t.Errorf("tries: %v, want 1 to 4 (the workers at once) of each receiver for 30 events", tries)
	}
	if r := testutil.ToFloat64(w.results.WithLabelValues("retried")); r != 180 {
		t.Errorf("retried %v, want 180", r)
	}
	mu.Unlock()
	// The failing receiver recovers: once a second has passed since its
	// last failure, deliveries reach it.
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	w.failFast = 300 * time.Millisecond
	rc := new(receiver)
	rc.failed.Store(time.Now().UnixNano()) // as if it had just failed
	w.receivers.Store(ok.URL, rc)
	w.backoff = []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}
	w.Send(testEvent(), "", []string{ok.URL})
	waitFor(t, "delivered after the receiver recovered", 3*time.Second, func() bool { return testutil.ToFloat64(w.results.WithLabelValues("delivered")) == 1 })
	mu.Lock()
}
