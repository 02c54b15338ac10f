package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ttpgate/ttpgate/gateway"
)

// listener is one front-end of the gateway, listening.
type listener struct {
	protocol string
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context)
}

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
	if cfg.Gateway.SFTP.Listen == "" && cfg.Gateway.S3.Listen == "" {
		return errors.New("neither gateway.sftp.listen nor gateway.s3.listen is configured: nothing to serve")
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	d := gateway.NewDropzone(st, cfg, log.With("component", "gateway"))

	// Everything is set up and every address bound before anything is
	// served: a mistake stops the start, not half the gateway.
	var ls []listener
	closeAll := func() {
		for _, l := range ls {
			l.ln.Close()
		}
	}
	if addr := cfg.Gateway.SFTP.Listen; addr != "" {
		keys, err := gateway.LoadHostKeys(cfg.Gateway.SFTP.HostKeys...)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := gateway.NewSFTPServer(d, keys)
		ls = append(ls, listener{"sftp", ln, srv.Serve, srv.Shutdown})
	}
	if addr := cfg.Gateway.S3.Listen; addr != "" {
		s3cfg := cfg.Gateway.S3
		secret, err := gateway.ReadS3CredentialSecret(s3cfg.CredentialSecret)
		if err != nil {
			closeAll()
			return err
		}
		srv, err := gateway.NewS3Server(d, gateway.S3Options{Region: s3cfg.Region, CredentialSecret: secret,
			TLSCertFile: s3cfg.TLSCert, TLSKeyFile: s3cfg.TLSKey, MultipartExpiry: time.Duration(s3cfg.MultipartExpiry)})
		if err != nil {
			closeAll()
			return err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			srv.Shutdown(context.Background()) // stops its janitor
			closeAll()
			return err
		}
		ls = append(ls, listener{"s3", ln, srv.Serve, func(ctx context.Context) { srv.Shutdown(ctx) }})
	}

	for _, l := range ls {
		log.Info("listening", "component", "gateway", "protocol", l.protocol, "addr", l.ln.Addr().String())
		if dev {
			printDevHint(stdout, l.protocol, l.ln.Addr())
		}
	}

	// Each server runs until shutdown; one that fails stops the others.
	var stopping atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range ls {
		g.Go(func() error {
			err := l.serve(l.ln)
			if err == nil && !stopping.Load() {
				err = errors.New("stopped unexpectedly")
			}
			if err != nil {
				return fmt.Errorf("%s server: %w", l.protocol, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		stopping.Store(true)
		log.Info("shutting down: no new sessions; uploads in progress may finish", "component", "gateway", "grace", grace.String())
		sctx, cancel := context.WithTimeout(context.Background(), *grace)
		defer cancel()
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Go(func() { l.shutdown(sctx) })
		}
		wg.Wait()
		return nil
	})
	return g.Wait()
}

// printDevHint tells how to connect to a development setup.
func printDevHint(stdout io.Writer, protocol string, addr net.Addr) {
	_, port, _ := net.SplitHostPort(addr.String())
	switch protocol {
	case "sftp":
		fmt.Fprintf(stdout, "SFTP on %s. Connect as the example tenant:\n  sftp -P %s -i %s/keys/tenant-vendor-acme vendor-acme@127.0.0.1\n",
			addr, port, devDir)
	case "s3":
		fmt.Fprintf(stdout, "S3 on https://%s (path-style; the bucket is the tenant id). As the example tenant:\n"+
			"  eval \"$(ttpgate tenants s3-credentials vendor-acme)\"; export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=eu-west-1\n"+
			"  aws --endpoint-url https://127.0.0.1:%s --ca-bundle %s/keys/tls.crt s3 cp FILE.age s3://vendor-acme/upload/\n",
			addr, port, devDir)
	}
}
