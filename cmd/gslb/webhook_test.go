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

// TestWebhookDownOrSlow: a receiver that refuses connections, answers 500
// or hangs gets every try and then the delivery is dropped and counted;
// Send never waits.
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
	if tries["500"] != 90 || tries["slow"] != 90 {
		t.Errorf("tries: %v, want 3 each of 30 events", tries)
	}
	if r := testutil.ToFloat64(w.results.WithLabelValues("retried")); r != 180 {
		t.Errorf("retried %v, want 180", r)
	}
}
