package processor

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"

	"filippo.io/age"

	"github.com/ttpgate/ttpgate/internal/synth"
)

// BenchmarkProcessROM processes one age-encrypted ROM delivery of
// TTPGATE_BENCH_ROWS rows (default 200,000) per iteration: decrypt, read,
// validate, pseudonymise, sort, stage and rebuild the outputs. It reports
// rows/s and the peak heap. bench/process.sh measures the whole program
// (peak RSS) at 1 and 4 million rows.
func BenchmarkProcessROM(b *testing.B) {
	rows := 200_000
	if s := os.Getenv("TTPGATE_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	h := newHarness(b, romTenant("vendor", "94012345", "94054321"))
	var enc bytes.Buffer
	aw, err := age.Encrypt(&enc, h.id.Recipient())
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriter(aw)
	if err := synth.WriteROM(bw, synth.Options{Rows: rows, Seed: 11}); err != nil {
		b.Fatal(err)
	}
	bw.Flush()
	aw.Close()
	data := enc.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		h2 := newHarness(b, h.tenants...)
		h2.id = h.id
		m := h2.deliver("vendor", "rom.csv.age", data)
		b.StartTimer()
		p := h2.processor()
		if _, err := p.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if r := h2.report(m); r.RowsAccepted == 0 {
			b.Fatalf("nothing accepted: %+v", r)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapSys)
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "heap-sys-MB")
}
