package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/ttpgate/ttpgate/gateway"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/processor"
)

func cmdProcess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("process", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	// The processor's live heap stays below about 100 MB whatever the input
	// size; a soft limit keeps the garbage collector from letting the
	// process grow far past that. GOMEMLIMIT, when set, takes precedence.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(160 << 20)
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	p, err := newProcessor(cfg, st, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	sum, err := p.Run(ctx)
	if err != nil {
		return err
	}
	printSummary(stdout, sum, time.Since(start))
	return nil
}

func printSummary(w io.Writer, s processor.Summary, took time.Duration) {
	fmt.Fprintf(w, "processed %d deliveries in %s: %d accepted, %d accepted with warnings, %d duplicate, %d rejected",
		s.Processed, took.Round(time.Millisecond), s.Accepted, s.AcceptedWithWarnings, s.Duplicate, s.Rejected)
	if s.SkippedClaimed > 0 {
		fmt.Fprintf(w, " (%d claimed by another processor)", s.SkippedClaimed)
	}
	fmt.Fprintf(w, "\noutputs: %d written, %d unchanged, %d removed\n", len(s.OutputsWritten), s.OutputsUnchanged, len(s.OutputsRemoved))
	for _, k := range s.OutputsWritten {
		fmt.Fprintf(w, "  wrote   %s\n", k)
	}
	for _, k := range s.OutputsRemoved {
		fmt.Fprintf(w, "  removed %s\n", k)
	}
}

func cmdDeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("deliver", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
	tenant := fs.String("tenant", "", "tenant id the files are delivered for (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: ttpgate deliver --config FILE --tenant T FILE...")
		return errUsage
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	if _, ok := cfg.Tenant(*tenant); !ok {
		return fmt.Errorf("unknown tenant %q", *tenant)
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	failed := 0
	for _, name := range fs.Args() {
		m, err := deliverFile(ctx, st, cfg, *tenant, name)
		if err != nil {
			fmt.Fprintf(stderr, "ttpgate: %s: refused: %v\n", name, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\t%d bytes\tsha256 %s\n", m.ID, m.FileName, m.Size, m.SHA256)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files refused", failed, fs.NArg())
	}
	return nil
}

func deliverFile(ctx context.Context, st store.Store, cfg *config.Config, tenant, name string) (delivery.Meta, error) {
	f, err := os.Open(name)
	if err != nil {
		return delivery.Meta{}, err
	}
	defer f.Close()
	return delivery.Commit(ctx, st, delivery.Upload{
		Tenant: tenant, Channel: delivery.ChannelCLI, FileName: filepath.Base(name),
		MaxSize: int64(cfg.Gateway.Limits.MaxFileSize),
	}, f)
}

func cmdDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "usage: ttpgate deliveries list [--config FILE] [--tenant T] [--since DATE]")
		return errUsage
	}
	fs := newFlags("deliveries list", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
	tenant := fs.String("tenant", "", "only this tenant")
	since := fs.String("since", "", "only deliveries received on or after this date (YYYY-MM-DD) or time (RFC 3339)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		t, err := time.Parse(time.DateOnly, *since)
		if err != nil {
			t, err = time.Parse(time.RFC3339, *since)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ttpgate: --since %q is not a date (YYYY-MM-DD) or RFC 3339 time\n", *since)
			return errUsage
		}
		from = t
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	metas, err := delivery.List(ctx, st)
	if err != nil {
		return err
	}
	slices.SortFunc(metas, func(a, b delivery.Meta) int { return strings.Compare(a.ID, b.ID) })
	statuses, err := processor.Statuses(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-29s  %-20s  %-7s  %-12s  %-38s  %s\n", "DELIVERY", "RECEIVED", "CHANNEL", "TENANT", "STATUS", "FILE")
	for _, m := range metas {
		if (*tenant != "" && m.Tenant != *tenant) || m.ReceivedAt.Before(from) {
			continue
		}
		status := "pending"
		if e, ok := statuses[m.ID]; ok {
			status = e.Status
			if e.Status == "" {
				status = "processing"
			}
			if e.Reason != "" {
				status += " (" + e.Reason + ")"
			}
		}
		fmt.Fprintf(stdout, "%-29s  %-20s  %-7s  %-12s  %-38s  %s\n", m.ID, m.ReceivedAt.UTC().Format(time.RFC3339), m.Channel, m.Tenant, status, m.FileName)
	}
	return nil
}

func cmdTenants(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "s3-credentials" {
		return cmdTenantsS3Credentials(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "check") {
		fmt.Fprintln(stderr, "usage: ttpgate tenants list|check [--config FILE]")
		fmt.Fprintln(stderr, "       ttpgate tenants s3-credentials [--config FILE] TENANT")
		return errUsage
	}
	fs := newFlags("tenants "+args[0], stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	if args[0] == "check" {
		fmt.Fprintf(stdout, "%s: configuration valid, %d tenant(s)\n", cfg.Path, len(cfg.Tenants))
		return nil
	}
	fmt.Fprintf(stdout, "%-20s  %-10s  %-5s  %-5s  %s\n", "TENANT", "DATASETS", "ORGS", "VSVS", "NAME")
	for _, t := range cfg.Tenants {
		fmt.Fprintf(stdout, "%-20s  %-10s  %-5d  %-5d  %s\n", t.ID, fmt.Sprint(t.Datasets), len(t.Organisations), len(t.VSVs), t.Name)
	}
	return nil
}

// cmdTenantsS3Credentials prints a tenant's S3 access key id and secret key
// as environment variable assignments, the form the AWS CLI and SDKs read.
// The secret is derived from the gateway's credential secret, so it is the
// same on every gateway of one deployment and never stored.
func cmdTenantsS3Credentials(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tenants s3-credentials", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the development setup in ./"+devDir+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: ttpgate tenants s3-credentials [--config FILE] TENANT")
		return errUsage
	}
	id := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil { // flags after TENANT
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	t, ok := cfg.Tenant(id)
	if !ok {
		return fmt.Errorf("no tenant %q in %s", id, cfg.Path)
	}
	if t.S3AccessKey == "" {
		return fmt.Errorf("tenant %s has no s3_access_key: it has no S3 access", t.ID)
	}
	if cfg.Gateway.S3.CredentialSecret == "" {
		return fmt.Errorf("gateway.s3.credential_secret is not configured in %s", cfg.Path)
	}
	secret, err := gateway.ReadS3CredentialSecret(cfg.Gateway.S3.CredentialSecret)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", t.S3AccessKey, gateway.DeriveS3Secret(secret, t.S3AccessKey))
	return nil
}
