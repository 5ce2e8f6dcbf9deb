// Command notifyrecv stands in for systemd's notification socket in
// packaging/test.sh: it binds a unixgram socket (mode 0666, so the daemon's
// unprivileged user can send) and appends each sd_notify datagram to a file
// as one line, its KEY=VALUE assignments joined by "|". It exits after
// -timeout or on SIGTERM. It lives under testdata so ./... does not build it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	sock := flag.String("socket", "", "unixgram socket `path` to bind")
	out := flag.String("out", "", "`file` to append datagrams to")
	timeout := flag.Duration("timeout", 2*time.Minute, "exit after this long")
	flag.Parse()
	if err := run(*sock, *out, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "notifyrecv:", err)
		os.Exit(1)
	}
}

func run(sock, out string, timeout time.Duration) error {
	if sock == "" || out == "" {
		return fmt.Errorf("-socket and -out are required")
	}
	_ = os.Remove(sock)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("listen %s: %w", sock, err)
	}
	defer os.Remove(sock)
	if err := os.Chmod(sock, 0o666); err != nil {
		return fmt.Errorf("chmod %s: %w", sock, err)
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", out, err)
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	buf := make([]byte, 64*1024)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", sock, err)
		}
		line := strings.ReplaceAll(strings.TrimRight(string(buf[:n]), "\n"), "\n", "|")
		if _, err := fmt.Fprintln(f, line); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
	}
}
