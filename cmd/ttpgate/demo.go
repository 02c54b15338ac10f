package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/parquet-go/parquet-go"

	"github.com/ttpgate/ttpgate/internal/config"
	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/internal/synth"
	"github.com/ttpgate/ttpgate/schemas"
)

// cmdDemo runs the whole flow on embedded defaults: a development setup in
// a temporary folder, synthetic ROM and LVR1 extracts encrypted to the
// processor's age recipient, their delivery, a processing run and a summary
// of the outputs.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "", "folder for the demo (default: a new temporary folder)")
	romRows := fs.Int("rom-rows", 20000, "rows of the synthetic ROM extract")
	lvrRows := fs.Int("lvr1-rows", 6000, "rows of the synthetic LVR1 extract")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "ttpgate-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	start := time.Now()
	fmt.Fprintf(stdout, "ttpgate demo in %s\n\n", *dir)
	cfgPath, err := ensureDevSetup(*dir, io.Discard)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "1. keys and configuration: %s (keys in %s)\n", cfgPath, filepath.Join(*dir, "keys"))
	recipient, err := readRecipient(filepath.Join(*dir, "keys", "recipient.txt"))
	if err != nil {
		return err
	}

	// Senders: synthetic extracts, encrypted as they leave the "sender".
	uploads := filepath.Join(*dir, "outgoing")
	if err := os.MkdirAll(uploads, 0o700); err != nil {
		return err
	}
	type job struct {
		tenant, file string
		write        func(io.Writer) error
	}
	jobs := []job{
		{"vendor-acme", "rom-2026h1.csv.age", func(w io.Writer) error {
			return synth.WriteROM(w, synth.Options{Rows: *romRows, Seed: 1, Dialect: "excel-nl"})
		}},
		{"praktijk-zon", "lvr1-2026.csv.age", func(w io.Writer) error {
			return synth.WriteLVR1(w, synth.Options{Rows: *lvrRows, Seed: 2, Dialect: "standard"})
		}},
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "2. synthetic extracts, encrypted with age and delivered:\n")
	for _, j := range jobs {
		path := filepath.Join(uploads, j.file)
		if err := encryptTo(path, recipient, j.write); err != nil {
			return err
		}
		m, err := deliverFile(ctx, st, cfg, j.tenant, path)
		if err != nil {
			return fmt.Errorf("deliver %s: %w", j.file, err)
		}
		fmt.Fprintf(stdout, "   %-13s %-20s %9d bytes  delivery %s\n", j.tenant, m.FileName, m.Size, m.ID)
	}

	p, err := newProcessor(cfg, st, io.Discard)
	if err != nil {
		return err
	}
	t0 := time.Now()
	sum, err := p.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "3. processing run (%s): %d accepted, %d with warnings, %d rejected\n",
		time.Since(t0).Round(time.Millisecond), sum.Accepted, sum.AcceptedWithWarnings, sum.Rejected)
	fmt.Fprintf(stdout, "4. outputs:\n")
	if err := summarizeOutputs(ctx, stdout, st, cfg.Store.Path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nfeedback reports: %s\n", filepath.Join(cfg.Store.Path, "outbox"))
	fmt.Fprintf(stdout, "read a table:     SELECT * FROM read_parquet('%s/out/kibg/rom_outcomes/**/*.parquet', hive_partitioning = true)\n", cfg.Store.Path)
	fmt.Fprintf(stdout, "done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
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

// summarizeOutputs prints, per output table, its partitions and rows and a
// few national headline figures, read back from the Parquet files.
func summarizeOutputs(ctx context.Context, w io.Writer, st store.Store, root string) error {
	tables := []string{"out/kibg/rom_outcomes/", "out/kibg/rom_response/", "out/dhd/ig_indicators/", "out/zin/ig_odb/", "out/ops/deliveries/"}
	for _, table := range tables {
		var files []string
		rows := int64(0)
		for info, err := range st.List(ctx, table) {
			if err != nil {
				return err
			}
			f, err := os.Open(filepath.Join(root, filepath.FromSlash(info.Key)))
			if err != nil {
				return err
			}
			pf, err := parquet.OpenFile(f, info.Size)
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", info.Key, err)
			}
			rows += pf.NumRows()
			f.Close()
			files = append(files, strings.TrimPrefix(info.Key, table))
		}
		fmt.Fprintf(w, "   %-24s %4d rows in %d file(s): %s\n", strings.TrimSuffix(strings.TrimPrefix(table, "out/"), "/"), rows, len(files), strings.Join(files, ", "))
	}
	// Headlines: the national rows.
	for info, err := range st.List(ctx, "out/kibg/rom_outcomes/") {
		if err != nil {
			return err
		}
		got, err := parquet.ReadFile[schemas.ROMOutcome](filepath.Join(root, filepath.FromSlash(info.Key)))
		if err != nil {
			return err
		}
		period := strings.TrimPrefix(strings.Split(info.Key, "/")[3], "period=")
		for _, r := range got {
			if r.Organisation == schemas.NationalCode && !r.Suppressed && r.NPairs != nil {
				fmt.Fprintf(w, "   ROM %s %-8s %-8s NL: %5d pairs, mean improvement %6.2f, recovered %5.1f%%, deteriorated %4.1f%%\n",
					period, r.Instrument, r.Scale, *r.NPairs, deref(r.MeanImprovement), deref(r.PctRecovered), deref(r.PctDeteriorated))
			}
		}
	}
	for info, err := range st.List(ctx, "out/dhd/ig_indicators/") {
		if err != nil {
			return err
		}
		got, err := parquet.ReadFile[schemas.IGIndicator](filepath.Join(root, filepath.FromSlash(info.Key)))
		if err != nil {
			return err
		}
		year := strings.TrimPrefix(strings.Split(info.Key, "/")[3], "year=")
		for _, r := range got {
			if r.VSV == schemas.NationalCode && !r.Suppressed {
				fmt.Fprintf(w, "   IG  %s %s %-32s NL: %6.1f %s (%d/%d)\n", year, r.IndicatorID, r.IndicatorName, deref(r.Score), r.Unit, *r.Numerator, *r.Denominator)
			}
		}
	}
	return nil
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
