package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ttpgate/ttpgate/gateway"
	"github.com/ttpgate/ttpgate/internal/config"
)

// listener is one front-end of the gateway, or its admin listener,
// listening.
type listener struct {
	protocol string
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context)
	// accepting reports whether a front-end accepts connections (/readyz).
	accepting func() bool
	// drain is set on the admin listener only: it turns /readyz 503 as
	// soon as shutdown begins, and the listener shuts down after the
	// front-ends, so that /metrics answers while uploads finish.
	drain func()
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := configFlag(fs)
	grace := fs.Duration("grace", 30*time.Second, "on SIGINT/SIGTERM, how long uploads in progress may take to finish")
	drainDelay := fs.Duration("drain-delay", 0, "on SIGINT/SIGTERM, how long to go on accepting new sessions while /readyz says 503, so that load balancers stop sending first (e.g. 10s behind one)")
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
	// A registry of this gateway's own, never the global default one.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := d.RegisterMetrics(reg); err != nil {
		return err
	}
	var admin *gateway.AdminServer
	var adminLn net.Listener
	if addr := cfg.Gateway.Admin.Listen; addr != "" {
		if adminLn, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		admin = gateway.NewAdminServer(reg, st, log.With("component", "admin"))
	} else {
		log.Warn("gateway.admin.listen is not set: no /metrics, /healthz or /readyz", "component", "gateway")
	}
	ls, err := listenGateway(cfg, d)
	if err != nil {
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}
	if admin != nil {
		for _, l := range ls {
			admin.AddFront(l.protocol, l.accepting)
		}
		ls = append(ls, listener{protocol: "admin", ln: adminLn, serve: admin.Serve,
			shutdown: func(ctx context.Context) { admin.Shutdown(ctx) }, drain: admin.Drain})
	}
	for _, l := range ls {
		log.Info("listening", "component", "gateway", "protocol", l.protocol, "addr", l.ln.Addr().String())
		if dev {
			printDevHint(stdout, l.protocol, l.ln.Addr())
		}
	}
	return serveGateway(ctx, ls, *drainDelay, *grace, log)
}

// listenGateway sets up the gateway's front-ends that cfg configures and
// binds their addresses (an address with port 0 gets a free port). On error
// nothing stays bound.
func listenGateway(cfg *config.Config, d *gateway.Dropzone) ([]listener, error) {
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
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		srv := gateway.NewSFTPServer(d, keys)
		ls = append(ls, listener{protocol: "sftp", ln: ln, serve: srv.Serve, shutdown: srv.Shutdown, accepting: srv.Accepting})
	}
	if addr := cfg.Gateway.S3.Listen; addr != "" {
		s3cfg := cfg.Gateway.S3
		secret, err := gateway.ReadS3CredentialSecret(s3cfg.CredentialSecret)
		if err != nil {
			closeAll()
			return nil, err
		}
		srv, err := gateway.NewS3Server(d, gateway.S3Options{Region: s3cfg.Region, CredentialSecret: secret,
			TLSCertFile: s3cfg.TLSCert, TLSKeyFile: s3cfg.TLSKey, MultipartExpiry: time.Duration(s3cfg.MultipartExpiry)})
		if err != nil {
			closeAll()
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			srv.Shutdown(context.Background()) // stops its janitor
			closeAll()
			return nil, err
		}
		ls = append(ls, listener{protocol: "s3", ln: ln, serve: srv.Serve,
			shutdown: func(ctx context.Context) { srv.Shutdown(ctx) }, accepting: srv.Accepting})
	}

	return ls, nil
}

// serveGateway serves ls until ctx ends or one of them fails, then shuts
// them all down: /readyz turns 503 at once, new sessions are still taken for
// drainDelay (load balancers notice the 503 only after a few probes), then
// uploads in progress get grace to finish.
func serveGateway(ctx context.Context, ls []listener, drainDelay, grace time.Duration, log *slog.Logger) error {
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
		for _, l := range ls {
			if l.drain != nil {
				l.drain() // load balancers stop sending new sessions at once
			}
		}
		if drainDelay > 0 {
			log.Info("draining: not ready, still accepting sessions", "component", "gateway", "drain_delay", drainDelay.String())
			time.Sleep(drainDelay)
		}
		log.Info("shutting down: no new sessions; uploads in progress may finish", "component", "gateway", "grace", grace.String())
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		var wg sync.WaitGroup
		for _, l := range ls {
			if l.drain == nil {
				wg.Go(func() { l.shutdown(sctx) })
			}
		}
		wg.Wait()
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, l := range ls {
			if l.drain != nil {
				l.shutdown(actx)
			}
		}
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
	case "admin":
		fmt.Fprintf(stdout, "Monitoring on http://%s: /metrics (Prometheus), /healthz, /readyz\n", addr)
	case "s3":
		fmt.Fprintf(stdout, "S3 on https://%s (path-style; the bucket is the tenant id). As the example tenant:\n"+
			"  eval \"$(ttpgate tenants s3-credentials vendor-acme)\"; export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=eu-west-1\n"+
			"  aws --endpoint-url https://127.0.0.1:%s --ca-bundle %s/keys/tls.crt s3 cp FILE.age s3://vendor-acme/upload/\n",
			addr, port, devDir)
	}
}
