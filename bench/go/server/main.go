// Command server is Go's h2c server for the comparison in scripts/bench-go.sh: the same
// Echo procedure as `hopwire serve` (POST /hopwire.bench.v1.BenchService/Echo answers the
// request body after --delay), over HTTP/1.1 and h2c (prior knowledge) on one port, with
// golang.org/x/net/http2/h2c. It prints "listening on 127.0.0.1:PORT" like hopwire serve.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	delay := flag.Duration("delay", time.Millisecond, "delay per request")
	maxStreams := flag.Uint("max-streams", 1000, "SETTINGS_MAX_CONCURRENT_STREAMS")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/hopwire.bench.v1.BenchService/Echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Header().Set("Content-Type", "application/proto")
		w.Write(body)
	})
	h2s := &http2.Server{MaxConcurrentStreams: uint32(*maxStreams)}
	srv := &http.Server{Handler: h2c.NewHandler(mux, h2s)}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	os.Stdout.Sync()
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		os.Exit(0)
	}()
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
