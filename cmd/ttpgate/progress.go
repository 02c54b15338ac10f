package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ttpgate/ttpgate/processor"
)

// How often progress is shown: a terminal's status line is redrawn at most
// every statusEvery; without a terminal, a delivery that takes long gets a
// log line every heartbeatEvery.
const (
	statusEvery    = 100 * time.Millisecond
	heartbeatEvery = 30 * time.Second
)

// terminal returns the file descriptor of w when w is a terminal that
// understands the escape sequence the status line uses.
func terminal(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// statusLine is one line at the bottom of a terminal, redrawn in place. Log
// lines written through it appear above it: it clears itself, lets the line
// through and draws itself again, so that the two never mix.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	width func() int // columns of the terminal; 0 when unknown
	text  string     // shown now; "" when nothing is
}

const clearLine = "\r\x1b[K"

// Write passes a log line on, above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.text != "" {
		io.WriteString(s.w, clearLine)
	}
	n, err := s.w.Write(p)
	if s.text != "" {
		io.WriteString(s.w, "\r"+s.text)
	}
	return n, err
}

// set shows text, cut to the width of the terminal: a line that wrapped
// could not be redrawn in place.
func (s *statusLine) set(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.width(); w > 1 && len(text) > w-1 {
		text = text[:w-1]
	}
	s.text = text
	io.WriteString(s.w, clearLine+text)
}

// clear removes the status line.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.text != "" {
		io.WriteString(s.w, clearLine)
		s.text = ""
	}
}

// progress shows how far a processing run is: on a terminal as a status
// line (deliveries done of those pending, the current delivery's rows and
// rows per second), otherwise as log lines (the processor logs every
// delivery it decides; this adds the start of the run, the rebuild, and a
// heartbeat for a delivery that takes long).
type progress struct {
	line *statusLine  // on a terminal; nil otherwise
	log  *slog.Logger // otherwise
	now  func() time.Time

	pending, done int
	delivery      string
	rows          int64
	began         time.Time // of the current delivery
	shown         time.Time // last redraw or heartbeat
}

// newProgress returns the progress display of a run whose messages go to
// stderr, and the writer the run's log lines must go through.
func newProgress(stderr io.Writer) (*progress, io.Writer) {
	p := &progress{now: time.Now}
	if fd, ok := terminal(stderr); ok {
		p.line = &statusLine{w: stderr, width: func() int {
			w, _, err := term.GetSize(fd)
			if err != nil {
				return 0
			}
			return w
		}}
		return p, p.line
	}
	p.log = newLogger(stderr).With("component", "process")
	return p, stderr
}

// step takes one step of the run (processor.Options.Progress).
func (p *progress) step(s processor.Progress) {
	now := p.now()
	force := true
	switch s.Step {
	case processor.StepStart:
		p.pending = s.Pending
		if p.log != nil {
			p.log.Info("processing run started", "pending", s.Pending)
		}
	case processor.StepDelivery:
		p.delivery, p.rows, p.began, p.shown = s.Delivery, 0, now, now
	case processor.StepRows:
		p.rows = s.Rows
		force = false
		if p.log != nil && now.Sub(p.shown) >= heartbeatEvery {
			p.log.Info("processing", "delivery", p.delivery, "rows", p.rows, "rows_per_second", p.rate(now))
			p.shown = now
		}
	case processor.StepDone:
		p.done++
		p.delivery, p.rows = "", 0
	case processor.StepRebuild:
		p.delivery = ""
		if p.log != nil {
			p.log.Info("rebuilding outputs")
		}
	}
	if p.line == nil || !force && now.Sub(p.shown) < statusEvery {
		return
	}
	p.shown = now
	switch {
	case s.Step == processor.StepRebuild:
		p.line.set(fmt.Sprintf("processed %d/%d deliveries; rebuilding the outputs", p.done, p.pending))
	case p.delivery != "":
		p.line.set(fmt.Sprintf("processing delivery %d/%d %s: %s rows, %s rows/s",
			p.done+1, p.pending, p.delivery, thousands(p.rows), thousands(p.rate(now))))
	default:
		p.line.set(fmt.Sprintf("processed %d/%d deliveries", p.done, p.pending))
	}
}

// rate is the rows per second of the current delivery.
func (p *progress) rate(now time.Time) int64 {
	d := now.Sub(p.began).Seconds()
	if d <= 0 {
		return 0
	}
	return int64(float64(p.rows) / d)
}

// finish removes the status line, before the summary is printed.
func (p *progress) finish() {
	if p.line != nil {
		p.line.clear()
	}
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
