package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ttpgate/ttpgate/gateway"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
	grace := fs.Duration("grace", 30*time.Second, "on SIGINT/SIGTERM, how long uploads in progress may take to finish")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	dev := *cfgPath == ""
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	d := gateway.NewDropzone(st, cfg, log.With("component", "gateway"))
	if cfg.Gateway.SFTP.Listen == "" {
		return errors.New("gateway.sftp.listen is not configured: nothing to serve")
	}
	keys, err := gateway.LoadHostKeys(cfg.Gateway.SFTP.HostKeys...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Gateway.SFTP.Listen)
	if err != nil {
		return err
	}
	srv := gateway.NewSFTPServer(d, keys)
	log.Info("listening", "component", "gateway", "protocol", "sftp", "addr", ln.Addr().String())
	if dev {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		fmt.Fprintf(stdout, "SFTP on %s. Connect as the example tenant:\n  sftp -P %s -i %s/keys/tenant-vendor-acme vendor-acme@127.0.0.1\n",
			ln.Addr(), port, devDir)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no new sessions; uploads in progress may finish", "component", "gateway", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	srv.Shutdown(sctx)
	return <-errc
}
