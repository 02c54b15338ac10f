package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/ttpgate/ttpgate/gateway"
	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/delivery"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/synth"
	"github.com/ttpgate/ttpgate/processor"
)

// The demo's senders: the example tenants of the development setup, one per
// channel, each with a synthetic extract of its dataset.
const (
	demoROMTenant  = "vendor-acme"  // uploads over SFTP with its SSH key
	demoLVR1Tenant = "praktijk-zon" // uploads over S3 with its derived credentials
	demoROMFile    = "rom-2026h1.csv.age"
	demoLVR1File   = "lvr1-2026.csv.age"
)

// demoExtracts are the options of the demo's synthetic extracts: a test
// replays them to list the identifying values the extracts hold.
func demoExtracts(romRows, lvr1Rows int) (rom, lvr1 synth.Options) {
	return synth.Options{Rows: romRows, Seed: 1, Dialect: "excel-nl"},
		synth.Options{Rows: lvr1Rows, Seed: 2, Dialect: "standard"}
}

// cmdDemo runs the whole flow as it happens in production, on one machine:
// a development setup in a folder of its own, the gateway on loopback
// ports, synthetic extracts encrypted to the processor's age recipient and
// uploaded as the example tenants over SFTP and S3 with real clients, a
// processing run once the gateway has stopped, and a summary of the
// outputs. The folder stays, so that its files can be looked at.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "", "folder for the demo, new or empty (default: a new folder in the system's temporary folder)")
	romRows := fs.Int("rom-rows", 20000, "rows of the synthetic ROM extract")
	lvrRows := fs.Int("lvr1-rows", 6000, "rows of the synthetic LVR1 extract")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	start := time.Now()
	root, err := demoDir(*dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (the demo's files are in %s)", err, root)
		}
	}()
	w := stdout
	fmt.Fprintf(w, "ttpgate demo in %s\n\n", root)

	// 1. Keys and configuration: an ordinary development setup.
	cfgPath, err := ensureDevSetup(root, io.Discard)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	keys := filepath.Join(root, "keys")
	fmt.Fprintf(w, "1. configuration created: %s\n", cfgPath)
	fmt.Fprintf(w, "   keys in %s: processor's age identity, pseudonym key, SSH host key, TLS certificate,\n"+
		"   S3 credential secret, and an SSH key for the example tenant %s\n", keys, demoROMTenant)

	// 2. The gateway, as serve runs it, on loopback ports the system picks.
	listenOnFreePorts(cfg)
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	gwLogFile, err := os.OpenFile(filepath.Join(root, "gateway.log"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer gwLogFile.Close()
	gwLog := newLogger(gwLogFile)
	ls, err := listenGateway(cfg, gateway.NewDropzone(st, cfg, gwLog.With("component", "gateway")))
	if err != nil {
		return err
	}
	addrs := map[string]string{}
	for _, l := range ls {
		addrs[l.protocol] = l.ln.Addr().String()
	}
	if addrs["sftp"] == "" || addrs["s3"] == "" {
		return errors.New("the development setup configures no SFTP or no S3 listener")
	}
	gwCtx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveGateway(gwCtx, ls, 0, 10*time.Second, gwLog) }()
	stopGateway := sync.OnceValue(func() error { cancel(); return <-served })
	defer stopGateway()
	fmt.Fprintf(w, "2. gateway listening on loopback: SFTP %s, S3 https://%s (certificate keys/tls.crt)\n", addrs["sftp"], addrs["s3"])

	// 3. Senders: synthetic extracts, encrypted as they leave the sender,
	// uploaded with the project's own clients.
	recipient, err := readRecipient(filepath.Join(keys, "recipient.txt"))
	if err != nil {
		return err
	}
	outgoing := filepath.Join(root, "outgoing")
	if err := os.MkdirAll(outgoing, 0o700); err != nil {
		return err
	}
	romOpt, lvrOpt := demoExtracts(*romRows, *lvrRows)
	romPath, lvrPath := filepath.Join(outgoing, demoROMFile), filepath.Join(outgoing, demoLVR1File)
	if err := encryptTo(romPath, recipient, func(dst io.Writer) error { return synth.WriteROM(dst, romOpt) }); err != nil {
		return err
	}
	if err := encryptTo(lvrPath, recipient, func(dst io.Writer) error { return synth.WriteLVR1(dst, lvrOpt) }); err != nil {
		return err
	}
	fmt.Fprintf(w, "3. synthetic extracts (ROM %d rows, LVR1 %d rows), encrypted with age to keys/recipient.txt, uploaded:\n",
		*romRows, *lvrRows)
	up := demoUploader{st: st, cfg: cfg, keys: keys}
	var metas []delivery.Meta
	for _, u := range []struct {
		tenant, channel, via, path string
		upload                     func(context.Context, string, string) error
	}{
		{demoROMTenant, delivery.ChannelSFTP, "SFTP", romPath, func(ctx context.Context, tenant, path string) error {
			return up.sftp(ctx, addrs["sftp"], tenant, path)
		}},
		{demoLVR1Tenant, delivery.ChannelS3, "S3", lvrPath, func(ctx context.Context, tenant, path string) error {
			return up.s3(ctx, addrs["s3"], tenant, path)
		}},
	} {
		m, err := up.upload(ctx, u.tenant, u.channel, u.path, u.upload)
		if err != nil {
			return fmt.Errorf("upload %s over %s as %s: %w", filepath.Base(u.path), u.via, u.tenant, err)
		}
		fmt.Fprintf(w, "   %-4s as %-12s  %-18s  %s  -> delivery %s\n", u.via, u.tenant, m.FileName, megabytes(m.Size), m.ID)
		metas = append(metas, m)
	}
	if err := stopGateway(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	fmt.Fprintf(w, "   gateway stopped; both uploads committed as deliveries (size and SHA-256 match what was sent)\n")

	// 4. A processing run, with the gateway down: only the processor holds
	// the keys that decrypt and pseudonymise.
	procLog, err := os.OpenFile(filepath.Join(root, "process.log"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer procLog.Close()
	p, err := newProcessor(cfg, st, procLog)
	if err != nil {
		return err
	}
	t0 := time.Now()
	sum, err := p.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "4. processed %d deliveries in %s: %d accepted, %d accepted with warnings, %d rejected\n",
		sum.Processed, time.Since(t0).Round(time.Millisecond), sum.Accepted, sum.AcceptedWithWarnings, sum.Rejected)
	for _, m := range metas {
		r, err := readReport(ctx, st, m)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   %-12s  %s: %d of %d rows accepted, %d rejected, %d warnings\n", m.Tenant, r.Status,
			r.RowsAccepted, r.RowsTotal, r.RowsRejected, int64(len(r.Warnings))+r.MoreWarnings)
		fmt.Fprintf(w, "   %-12s  feedback: %s\n", "", filepath.Join(cfg.Store.Path, filepath.FromSlash(reportKey(m))))
	}

	// 5. The outputs, read back from their Parquet files.
	out := filepath.Join(cfg.Store.Path, "out")
	fmt.Fprintf(w, "5. outputs in %s (Parquet, hive-partitioned; counts under %d suppressed):\n", out, cfg.Processor.MinCell)
	if err := summarizeOutputs(ctx, w, st); err != nil {
		return err
	}
	fmt.Fprintf(w, "   read one with DuckDB:\n   duckdb -c \"SELECT period, instrument, scale, n_pairs, mean_improvement, pct_recovered"+
		" FROM read_parquet('%s/kibg/rom_outcomes/*/*.parquet', hive_partitioning = true) WHERE organisation = 'NL' ORDER BY ALL\"\n", out)

	fmt.Fprintf(w, "\nThe folder stays for you to look at (logs in gateway.log and process.log); remove it with:\n  rm -r %s\n", root)
	fmt.Fprintf(w, "done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// listenOnFreePorts makes every listener cfg configures listen on a
// loopback port the system picks: the demo must not depend on, or take, a
// fixed port.
func listenOnFreePorts(cfg *config.Config) {
	for _, addr := range []*string{&cfg.Gateway.SFTP.Listen, &cfg.Gateway.S3.Listen, &cfg.Gateway.Admin.Listen} {
		if *addr != "" {
			*addr = "127.0.0.1:0"
		}
	}
}

// demoDir returns the demo's folder as an absolute path: dir, created when
// absent and refused when it holds anything (the demo's story starts from
// nothing), or a new folder in the system's temporary folder.
func demoDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "ttpgate-demo-")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", err
	}
	if len(entries) > 0 {
		return "", fmt.Errorf("demo folder %s is not empty: give a new or empty folder", abs)
	}
	return abs, nil
}

// megabytes formats a size for people: "2.3 MB".
func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// reportKey is where the processor leaves the feedback report of m.
func reportKey(m delivery.Meta) string {
	return "outbox/" + m.Tenant + "/" + m.ID + ".json"
}

func readReport(ctx context.Context, st store.Store, m delivery.Meta) (processor.Report, error) {
	var r processor.Report
	b, err := store.ReadAll(ctx, st, reportKey(m), 16<<20)
	if err != nil {
		return r, fmt.Errorf("feedback report of delivery %s: %w", m.ID, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("feedback report of delivery %s: %w", m.ID, err)
	}
	return r, nil
}

func readRecipient(path string) (*age.X25519Recipient, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return age.ParseX25519Recipient(strings.TrimSpace(string(b)))
}

// encryptTo streams what write produces through age into path: the
// plaintext never touches the disk.
func encryptTo(path string, r age.Recipient, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 256<<10)
	aw, err := age.Encrypt(bw, r)
	if err != nil {
		return err
	}
	pw := bufio.NewWriterSize(aw, 256<<10)
	if err := write(pw); err != nil {
		return err
	}
	if err := pw.Flush(); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
