// Command client is Go's side of scripts/bench-go.sh: C goroutines, each looping one unary
// POST (the 200 blocking callers of a reconcile loop), through either
//   h2c:        golang.org/x/net/http2.Transport{AllowHTTP, DialTLS -> plain dial}, or
//   h1-default: net/http's DefaultTransport shape (2 idle conns per host).
// The dialer sleeps --dial-cost before connecting, like `hopwire bench --dial-cost`.
// It prints one JSON line with the 12 keys of `hopwire bench --json` (mode "go-h2c" or
// "go-h1-default"), so the script can put both side by side.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func maxRSSKB() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return int64(ru.Maxrss)
}

// timeWait counts TIME_WAIT (06) sockets with |port| at either end, as hopwire bench does.
func timeWait(port int) int {
	n := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan()
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[3] != "06" {
				continue
			}
			for _, a := range fs[1:3] {
				i := strings.LastIndexByte(a, ':')
				if p, err := strconv.ParseUint(a[i+1:], 16, 32); err == nil && int(p) == port {
					n++
					break
				}
			}
		}
		f.Close()
	}
	return n
}

func main() {
	url := flag.String("url", "", "Echo URL (http://127.0.0.1:PORT/hopwire.bench.v1.BenchService/Echo)")
	mode := flag.String("mode", "h2c", "h2c or h1-default")
	conc := flag.Int("c", 200, "concurrent callers (goroutines)")
	dur := flag.Duration("d", 10*time.Second, "measured duration")
	warmup := flag.Duration("warmup", time.Second, "warm-up before measuring")
	payload := flag.Int("payload", 100, "request body bytes")
	dialCost := flag.Duration("dial-cost", time.Millisecond, "modelled dial cost")
	flag.Parse()
	if *url == "" || *conc < 1 || *conc > 10000 || *dur <= 0 || *dur > time.Hour {
		fmt.Fprintln(os.Stderr, "client: need -url, 1 <= -c <= 10000, 0 < -d <= 1h")
		os.Exit(2)
	}
	port := 0
	if i := strings.LastIndexByte(*url, ':'); i > 0 {
		fmt.Sscanf((*url)[i+1:], "%d", &port)
	}

	var dials int64
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		atomic.AddInt64(&dials, 1)
		time.Sleep(*dialCost)
		return dialer.DialContext(ctx, network, addr)
	}
	var rt http.RoundTripper
	switch *mode {
	case "h2c":
		rt = &http2.Transport{
			AllowHTTP: true,
			DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
				return dial(context.Background(), network, addr)
			},
		}
	case "h1-default":
		rt = &http.Transport{DialContext: dial, MaxIdleConnsPerHost: http.DefaultMaxIdleConnsPerHost,
			MaxIdleConns: 100, IdleConnTimeout: 90 * time.Second}
	default:
		fmt.Fprintln(os.Stderr, "client: -mode h2c or h1-default")
		os.Exit(2)
	}
	client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	body := bytes.Repeat([]byte("a"), *payload)

	const (
		warm = iota
		measure
		stop
	)
	var phase int32 = warm
	var errs, okAll int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, *conc)
	cpu0 := cpuSeconds()
	var wg sync.WaitGroup
	for g := 0; g < *conc; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for {
				ph := atomic.LoadInt32(&phase)
				if ph == stop {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest("POST", *url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/proto")
				req.Header.Set("Connect-Protocol-Version", "1")
				resp, err := client.Do(req)
				ok := false
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = err == nil && resp.StatusCode == 200
					if err == nil && !ok {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				lat := time.Since(t0)
				if ok {
					atomic.AddInt64(&okAll, 1)
				} else {
					firstErr.CompareAndSwap(nil, err.Error())
				}
				if ph == measure && atomic.LoadInt32(&phase) == measure {
					if ok {
						lats[g] = append(lats[g], lat)
					} else {
						atomic.AddInt64(&errs, 1)
					}
				}
			}
		}(g)
	}
	time.Sleep(*warmup)
	atomic.StoreInt32(&phase, measure)
	t0 := time.Now()
	time.Sleep(*dur)
	atomic.StoreInt32(&phase, stop)
	elapsed := time.Since(t0)
	tw := timeWait(port)
	wg.Wait()
	cpu := cpuSeconds() - cpu0

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		e, _ := firstErr.Load().(string)
		fmt.Fprintf(os.Stderr, "client: no call succeeded: %s\n", e)
		os.Exit(1)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) int64 {
		i := int(p*float64(len(all))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(all) {
			i = len(all) - 1
		}
		return all[i].Microseconds()
	}
	n := int64(len(all)) + errs
	fmt.Printf("{\"mode\":\"go-%s\",\"requests\":%d,\"errors\":%d,\"dials\":%d,\"rps\":%.1f,"+
		"\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"cpu_s\":%.3f,"+
		"\"time_wait\":%d,\"rss_kb\":%d}\n",
		*mode, n, errs, atomic.LoadInt64(&dials), float64(len(all))/elapsed.Seconds(),
		q(0.50), q(0.90), q(0.99), all[len(all)-1].Microseconds(), cpu, tw, maxRSSKB())
}
