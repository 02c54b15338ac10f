package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ttpgate/ttpgate/processor"
)

// fakeClock is a time that tests move on.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestProgressTerminal: the status line on a terminal, redrawn in place,
// throttled, with a log line passing above it, and cleared at the end.
func TestProgressTerminal(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	line := &statusLine{w: &out, width: func() int { return 120 }}
	p := &progress{line: line, now: clock.now}
	const id = "20260105T093000.000Z-0000000a"
	steps := []struct {
		after time.Duration
		step  processor.Progress
		want  string // written by this step
	}{
		{0, processor.Progress{Step: processor.StepStart, Pending: 2}, "\r\x1b[Kprocessed 0/2 deliveries"},
		{0, processor.Progress{Step: processor.StepDelivery, Delivery: id}, "\r\x1b[Kprocessing delivery 1/2 " + id + ": 0 rows, 0 rows/s"},
		{50 * time.Millisecond, processor.Progress{Step: processor.StepRows, Delivery: id, Rows: 4096}, ""}, // too soon
		{1950 * time.Millisecond, processor.Progress{Step: processor.StepRows, Delivery: id, Rows: 250_000},
			"\r\x1b[Kprocessing delivery 1/2 " + id + ": 250,000 rows, 125,000 rows/s"},
		{time.Second, processor.Progress{Step: processor.StepDone, Delivery: id, Rows: 300_000, Status: "accepted"}, "\r\x1b[Kprocessed 1/2 deliveries"},
		{0, processor.Progress{Step: processor.StepDone, Delivery: "other"}, "\r\x1b[Kprocessed 2/2 deliveries"},
		{0, processor.Progress{Step: processor.StepRebuild}, "\r\x1b[Kprocessed 2/2 deliveries; rebuilding the outputs"},
	}
	for i, s := range steps {
		clock.advance(s.after)
		out.Reset()
		p.step(s.step)
		if got := out.String(); got != s.want {
			t.Errorf("step %d (%v): wrote %q, want %q", i, s.step.Step, got, s.want)
		}
	}
	// A log line goes above the status line, which is drawn again below it.
	out.Reset()
	newLogger(line).Info("hello")
	got := out.String()
	if !strings.HasPrefix(got, "\r\x1b[K{") || !strings.HasSuffix(got, `"msg":"hello"}`+"\n\rprocessed 2/2 deliveries; rebuilding the outputs") {
		t.Errorf("log line written as %q", got)
	}
	out.Reset()
	p.finish()
	if got := out.String(); got != "\r\x1b[K" {
		t.Errorf("finish wrote %q, want the line cleared", got)
	}
	out.Reset()
	p.finish()
	newLogger(line).Info("after")
	if got := out.String(); strings.Contains(got, "\r") || strings.Contains(got, "\x1b") {
		t.Errorf("after finish, a log line is written as %q, want it plain", got)
	}
}

// TestProgressNarrowTerminal: the line is cut to the terminal's width (a
// line that wraps cannot be redrawn in place).
func TestProgressNarrowTerminal(t *testing.T) {
	var out bytes.Buffer
	line := &statusLine{w: &out, width: func() int { return 20 }}
	line.set("processing delivery 1/2 20260105T093000.000Z-0000000a")
	if got, want := out.String(), "\r\x1b[Kprocessing delivery"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

// TestProgressLog: without a terminal, log lines: the start, a heartbeat
// for a delivery that takes long, and the rebuild; nothing that moves a
// cursor.
func TestProgressLog(t *testing.T) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	p := &progress{log: log, now: clock.now}
	const id = "20260105T093000.000Z-0000000a"
	p.step(processor.Progress{Step: processor.StepStart, Pending: 3})
	p.step(processor.Progress{Step: processor.StepDelivery, Delivery: id})
	clock.advance(10 * time.Second)
	p.step(processor.Progress{Step: processor.StepRows, Delivery: id, Rows: 100_000}) // no heartbeat yet
	clock.advance(30 * time.Second)
	p.step(processor.Progress{Step: processor.StepRows, Delivery: id, Rows: 400_000})
	clock.advance(time.Second)
	p.step(processor.Progress{Step: processor.StepRows, Delivery: id, Rows: 410_000}) // too soon for the next
	p.step(processor.Progress{Step: processor.StepDone, Delivery: id, Rows: 500_000})
	p.step(processor.Progress{Step: processor.StepRebuild})
	p.finish()
	want := `{"level":"INFO","msg":"processing run started","pending":3}
{"level":"INFO","msg":"processing","delivery":"20260105T093000.000Z-0000000a","rows":400000,"rows_per_second":10000}
{"level":"INFO","msg":"rebuilding outputs"}
`
	if got := out.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
}

// TestProgressNotTerminal: a writer that is no terminal gets log lines, and
// the run's log goes to it directly.
func TestProgressNotTerminal(t *testing.T) {
	var out bytes.Buffer
	p, logTo := newProgress(&out)
	if p.line != nil || p.log == nil || logTo != &out {
		t.Errorf("newProgress(a buffer): status line %v, logger %v, log to %T; want a logger and the buffer", p.line, p.log, logTo)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -4096: "-4,096"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1234567: "1.2 MiB", 20 << 30: "20.0 GiB", 3 << 40: "3.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"rom-2026h1.csv.age":   "rom-2026h1.csv.age",
		"":                     `""`,
		"a b.age":              `"a b.age"`,
		"evil\x1b[2J\nx.age":   `"evil\x1b[2J\nx.age"`,
		"caf\u00e9.age":        `"caf\u00e9.age"`,
		"\u202egpj.exe.age":    `"\u202egpj.exe.age"`,
		`"quoted".age`:         `"\"quoted\".age"`,
		"inner\"quote.age":     `inner"quote.age`,
		"tab\there":            `"tab\there"`,
		"\x7fdel":              `"\x7fdel"`,
		"\xff\xfeinvalid-utf8": `"\xff\xfeinvalid-utf8"`,
	} {
		if got := safeText(in); got != want {
			t.Errorf("safeText(%q) = %s, want %s", in, got, want)
		}
	}
}
