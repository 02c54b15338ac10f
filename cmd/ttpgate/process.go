package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ttpgate/ttpgate/gateway"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/processor"
)

func cmdProcess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("process", stderr)
	cfgPath := configFlag(fs)
	metricsFile := fs.String("metrics-file", "", "after a successful run, write its metrics to this file in Prometheus text format\n"+
		"(atomically, for node_exporter's textfile collector: name it *.prom)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *metricsFile != "" {
		// Found out now, not after a long run.
		if fi, err := os.Stat(filepath.Dir(*metricsFile)); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "ttpgate: --metrics-file %s: its folder does not exist\n", *metricsFile)
			return errUsage
		}
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
	prog, logTo := newProgress(stderr)
	p, err := newProcessor(cfg, st, logTo, func(o *processor.Options) { o.Progress = prog.step })
	if err != nil {
		return err
	}
	start := time.Now()
	sum, err := p.Run(ctx)
	prog.finish()
	if err != nil {
		return err
	}
	printSummary(stdout, sum, time.Since(start))
	if *metricsFile != "" {
		if err := writeRunMetrics(*metricsFile, sum, time.Now()); err != nil {
			return fmt.Errorf("write --metrics-file: %w", err)
		}
	}
	return nil
}

// writeRunMetrics writes the metrics of a completed run to path in
// Prometheus text format, atomically (a temporary file renamed over it), for
// node_exporter's textfile collector: the usual way to monitor a batch job.
// Every value is of the last completed run; a failed run writes nothing, so
// that ttpgate_processor_last_success_timestamp_seconds tells how long ago a
// run last completed.
func writeRunMetrics(path string, s processor.Summary, end time.Time) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ttpgate", Subsystem: "processor", Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	deliveries := gauge("last_run_deliveries", "Deliveries decided by the last completed run, by status.", "status")
	deliveries.WithLabelValues(processor.StatusAccepted).Set(float64(s.Accepted))
	deliveries.WithLabelValues(processor.StatusAcceptedWithWarnings).Set(float64(s.AcceptedWithWarnings))
	deliveries.WithLabelValues(processor.StatusDuplicate).Set(float64(s.Duplicate))
	deliveries.WithLabelValues(processor.StatusRejected).Set(float64(s.Rejected))
	gauge("last_run_deliveries_skipped", "Deliveries the last completed run left to another processor that had claimed them.").
		WithLabelValues().Set(float64(s.SkippedClaimed))
	rows := gauge("last_run_rows", "Rows read by the last completed run, by status (their sum is every row read).", "status")
	rows.WithLabelValues("accepted").Set(float64(s.RowsAccepted))
	rows.WithLabelValues("rejected").Set(float64(s.RowsRejected))
	phases := gauge("last_run_duration_seconds", "How long the phases of the last completed run took: "+
		"ingest (listing and processing the deliveries) and rebuild (the outputs).", "phase")
	phases.WithLabelValues("ingest").Set(s.IngestDuration.Seconds())
	phases.WithLabelValues("rebuild").Set(s.RebuildDuration.Seconds())
	outputs := gauge("last_run_outputs", "Output files of the last completed run, by what happened to them.", "change")
	outputs.WithLabelValues("written").Set(float64(len(s.OutputsWritten)))
	outputs.WithLabelValues("unchanged").Set(float64(s.OutputsUnchanged))
	outputs.WithLabelValues("removed").Set(float64(len(s.OutputsRemoved)))
	gauge("last_success_timestamp_seconds", "When the last completed run ended, in seconds since the Unix epoch.").
		WithLabelValues().Set(float64(end.UnixMilli()) / 1000)
	return prometheus.WriteToTextfile(path, reg)
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
	cfgPath := configFlag(fs)
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
	const usage = "usage: ttpgate deliveries list [--config FILE] [--tenant T] [--since DATE] [--json]"
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	fs := newFlags("deliveries list", stderr)
	cfgPath := configFlag(fs)
	tenant := fs.String("tenant", "", "only this tenant")
	since := fs.String("since", "", "only deliveries received on or after this date (YYYY-MM-DD, UTC) or time (RFC 3339)")
	asJSON := fs.Bool("json", false, "one JSON object a line, for scripts")
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
	if _, ok := cfg.Tenant(*tenant); *tenant != "" && !ok {
		fmt.Fprintf(stderr, "ttpgate: --tenant %s: no such tenant in %s (ttpgate tenants list shows them)\n", safeText(*tenant), cfg.Path)
		return errUsage
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
	ledger, err := processor.Statuses(ctx, st)
	if err != nil {
		return err
	}
	var rows []deliveryRow
	for _, m := range metas {
		if (*tenant != "" && m.Tenant != *tenant) || m.ReceivedAt.Before(from) {
			continue
		}
		rows = append(rows, newDeliveryRow(m, ledger))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	printDeliveries(stdout, rows)
	return nil
}

// deliveryRow is one line of deliveries list: what arrived, and what
// became of it. As JSON (--json) it is one object a line.
type deliveryRow struct {
	ID           string     `json:"delivery_id"`
	ReceivedAt   time.Time  `json:"received_at"`
	Channel      string     `json:"channel"`
	Tenant       string     `json:"tenant"`
	Size         int64      `json:"size_bytes"`
	SHA256       string     `json:"sha256"`
	Status       string     `json:"status"` // pending, processing, or the decision
	Reason       string     `json:"reason,omitempty"`
	DuplicateOf  string     `json:"duplicate_of,omitempty"`
	Dataset      string     `json:"dataset,omitempty"`
	RowsTotal    *int64     `json:"rows_total,omitempty"`
	RowsAccepted *int64     `json:"rows_accepted,omitempty"`
	RowsRejected *int64     `json:"rows_rejected,omitempty"`
	ProcessedAt  *time.Time `json:"processed_at,omitempty"`
	FileName     string     `json:"file_name"`
}

const (
	statusPending    = "pending"
	statusProcessing = "processing"
)

func newDeliveryRow(m delivery.Meta, ledger map[string]processor.LedgerEntry) deliveryRow {
	r := deliveryRow{ID: m.ID, ReceivedAt: m.ReceivedAt.UTC(), Channel: m.Channel, Tenant: m.Tenant, Size: m.Size,
		SHA256: m.SHA256, Status: statusPending, FileName: m.FileName}
	e, ok := ledger[m.ID]
	switch {
	case !ok:
	case e.Status == "":
		r.Status = statusProcessing
	default:
		r.Status, r.Reason, r.DuplicateOf, r.Dataset = e.Status, e.Reason, e.DuplicateOf, e.Dataset
		r.RowsTotal, r.RowsAccepted, r.RowsRejected = &e.RowsTotal, &e.RowsAccepted, &e.RowsRejected
		if !e.ProcessedAt.IsZero() {
			t := e.ProcessedAt.UTC()
			r.ProcessedAt = &t
		}
	}
	return r
}

// printDeliveries prints the rows as a table, the sender's file name last,
// and a count by status.
func printDeliveries(w io.Writer, rows []deliveryRow) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tRECEIVED\tCHANNEL\tTENANT\tSIZE\tSTATUS\tROWS\tPROCESSED\tFILE")
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
		status := safeText(r.Status)
		if r.Reason != "" {
			status += " (" + safeText(r.Reason) + ")"
		}
		nrows, processed := "-", "-"
		if r.RowsTotal != nil {
			nrows = fmt.Sprintf("%d/%d", *r.RowsAccepted, *r.RowsTotal)
		}
		if r.ProcessedAt != nil {
			processed = r.ProcessedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.ReceivedAt.Format(time.RFC3339),
			safeText(r.Channel), safeText(r.Tenant), humanBytes(r.Size), status, nrows, processed, safeText(r.FileName))
	}
	tw.Flush()
	if len(rows) == 1 {
		fmt.Fprint(w, "1 delivery")
	} else {
		fmt.Fprintf(w, "%d deliveries", len(rows))
	}
	sep := ": "
	for _, st := range []string{statusPending, statusProcessing, processor.StatusAccepted, processor.StatusAcceptedWithWarnings,
		processor.StatusDuplicate, processor.StatusRejected} {
		if n := counts[st]; n > 0 {
			fmt.Fprintf(w, "%s%d %s", sep, n, strings.ReplaceAll(st, "_", " "))
			sep = ", "
		}
	}
	fmt.Fprintln(w)
}

// safeText returns s as it is when it is printable ASCII without spaces,
// else quoted with Go's escapes: a name a sender chose must not move the
// cursor, change colours, or pass for other columns or lines.
func safeText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' && i == 0 {
			return strconv.QuoteToASCII(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// humanBytes formats a size in bytes with binary prefixes: 512 B, 9.8 KiB, 20.0 GiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB", "PiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
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
	cfgPath := configFlag(fs)
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
	cfgPath := configFlag(fs)
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
