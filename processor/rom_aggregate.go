package processor

import (
	"cmp"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/ttpgate/ttpgate/schemas"
)

// aggParams configure the aggregations that build the output tables.
type aggParams struct {
	// MinCell is the smallest published count (see suppressGroup).
	MinCell int
	// Instruments holds each instrument's parameters (nil: the default
	// table). ROM measurements on an instrument and scale it does not know
	// are ignored.
	Instruments *schemas.InstrumentTable
	// Measurement windows in days around traject_start (pre) and
	// traject_eind (post). When all four are 0, the defaults 90, 21, 42
	// and 21 apply, as in Options.
	PreBefore, PreAfter, PostBefore, PostAfter int
}

// partition is one output partition.
type partition[T any] struct {
	Rows    []T   // sorted by key columns, suppression applied
	Sources []int // sorted unique src values whose records contributed to this partition
}

// Measurement moments and end reasons the ROM aggregation looks at.
const (
	momentPre           = "voor"
	momentPost          = "na"
	redenAdministratief = "administratief"
)

// romAggregator builds the KiBG tables (rom_outcomes, rom_response) from
// deduplicated ROM records that arrive in identity order, so that all
// records of one trajectory arrive consecutively. It holds one trajectory at
// a time plus one accumulator per output row; memory does not grow with the
// number of records.
//
// The rules, as outputs-v1.md states them and as the lead decided where the
// specification leaves room:
//
//   - A trajectory is (Organisation, Traject). Its attributes (Start, End,
//     Prestatie, RedenEinde) come from its record with the highest src, the
//     latest delivery; on a tie, the last record added.
//   - It belongs to the half-year of End: "YYYY-H1" for January to June,
//     "YYYY-H2" for July to December. Open trajectories (End nil) and those
//     with reden_einde administratief are left out, of both tables.
//   - A record with Instrument "" is a trajectory row without a measurement.
//     A measurement also needs a Date and a Score, and an instrument and
//     scale that the instrument table knows; any other record carries no
//     measurement (for either table).
//   - Per instrument and scale: pre is a "voor" measurement dated in
//     [Start−PreBefore, Start+PreAfter], post a "na" measurement in
//     [End−PostBefore, End+PostAfter], both inclusive; of several, the one
//     nearest Start (pre) or End (post), on a tie the earlier date.
//   - improvement = pre − post when higher is worse, post − pre otherwise.
//     Reliable improvement: improvement ≥ reliable change; reliable
//     deterioration: improvement ≤ −reliable change. These comparisons are
//     made on the scores as decimals (see cmpDiff), so a change of exactly
//     the reliable change counts whatever binary rounding does to it.
//     Clinical: score ≥ cut-off when higher is worse, score ≤ cut-off
//     otherwise. recovered: reliable improvement from clinical (pre) to
//     non-clinical (post); improved: any other reliable improvement;
//     deteriorated: reliable deterioration; unchanged: the rest.
//   - n_trajectories: included trajectories with any measurement (any
//     moment, any date) on the instrument and scale; n_pairs: those with a
//     pre and a post. mean_pre, mean_post and mean_improvement are means
//     over the pairs (compensated sums); sd is the sample standard
//     deviation (n−1, Welford) of the improvements; ci95 = mean_improvement
//     ± 1.96·sd/√n_pairs, null when n_pairs < 2; effect_size =
//     mean_improvement / sample sd of pre, null when n_pairs < 2 or that sd
//     is 0; pct_* = 100·count/n_pairs. The figures depend only on the
//     records and their order, which is the identity order.
//   - The national row (NL) of a period, instrument and scale is computed
//     from all pairs of all organisations, not from the organisation rows.
//   - Response, per organisation (and NL), period and prestatie, plus
//     "alle" which counts every included trajectory (one without a
//     prestatie counts only there): a completer has a pre and a post on
//     the same instrument and scale for at least one; else a dropout has
//     any pre; else a nonstarter has any post; else (also when it has no
//     measurement at all) it is a nonresponder. response_rate =
//     100·completers/trajectories.
//   - Suppression by suppressGroup: outcomes on n_pairs within period,
//     instrument and scale; response on n_trajectories within period and
//     prestatie. A suppressed row keeps its keys and params_provisional;
//     every count and figure is null.
//   - A partition's Sources are the src values of every record of the
//     trajectories included in that period (the same for both tables).
type romAggregator struct {
	p aggParams

	traj []romRecord // the current trajectory

	outcomes map[outcomeKey]*outcomeAcc
	response map[responseKey]*responseAcc
	sources  map[string]map[int]struct{} // period -> src values

	groups []measGroup // scratch for one trajectory
}

type romRecord struct {
	rec schemas.ROMStaged
	src int
}

type outcomeKey struct{ org, period, instrument, scale string }

type responseKey struct{ org, period, prestatie string }

type outcomeAcc struct {
	nTrajectories, nPairs int64
	pre, post, impr       moments
	// counts by category
	recovered, improved, unchanged, deteriorated int64
}

type responseAcc struct {
	trajectories, completers, dropouts, nonstarters, nonresponders int64
}

// measGroup is what one trajectory has on one instrument and scale.
type measGroup struct {
	instrument, scale string
	in                *schemas.Instrument
	pre, post         candidate
}

// candidate is the best pre or post measurement found so far.
type candidate struct {
	ok    bool
	date  int64
	dist  int64
	score float64
}

// offer makes (date, score) the candidate when it is nearer to ref than the
// current one, or as near and earlier.
func (c *candidate) offer(date, ref int64, score float64) {
	dist := date - ref
	if dist < 0 {
		dist = -dist
	}
	if !c.ok || dist < c.dist || dist == c.dist && date < c.date {
		*c = candidate{ok: true, date: date, dist: dist, score: score}
	}
}

func newROMAggregator(p aggParams) *romAggregator {
	if p.PreBefore == 0 && p.PreAfter == 0 && p.PostBefore == 0 && p.PostAfter == 0 {
		p.PreBefore, p.PreAfter, p.PostBefore, p.PostAfter = 90, 21, 42, 21
	}
	if p.Instruments == nil {
		p.Instruments = schemas.NewInstrumentTable(schemas.DefaultInstruments())
	}
	return &romAggregator{
		p:        p,
		outcomes: map[outcomeKey]*outcomeAcc{},
		response: map[responseKey]*responseAcc{},
		sources:  map[string]map[int]struct{}{},
	}
}

// add takes the next record in identity order; src is the index of the
// delivery it came from (higher is later). rec is copied.
func (a *romAggregator) add(rec *schemas.ROMStaged, src int) {
	if len(a.traj) > 0 {
		first := &a.traj[0].rec
		if first.Organisation != rec.Organisation || first.Traject != rec.Traject {
			a.flush()
		}
	}
	a.traj = append(a.traj, romRecord{rec: *rec, src: src})
}

// flush accounts the buffered trajectory and empties the buffer.
func (a *romAggregator) flush() {
	defer func() {
		clear(a.traj)
		a.traj = a.traj[:0]
	}()
	if len(a.traj) == 0 {
		return
	}
	attr := &a.traj[0]
	for i := range a.traj {
		if a.traj[i].src >= attr.src {
			attr = &a.traj[i]
		}
	}
	t := &attr.rec
	if t.End == nil || t.RedenEinde != nil && *t.RedenEinde == redenAdministratief {
		return
	}
	period := halfYear(*t.End)
	org := t.Organisation
	start, end := int64(t.Start), int64(*t.End)

	srcs := a.sources[period]
	if srcs == nil {
		srcs = map[int]struct{}{}
		a.sources[period] = srcs
	}
	a.groups = a.groups[:0]
	for i := range a.traj {
		r := &a.traj[i].rec
		srcs[a.traj[i].src] = struct{}{}
		if r.Instrument == "" || r.Date == nil || r.Score == nil {
			continue
		}
		g := a.group(r.Instrument, r.Scale)
		if g == nil {
			continue
		}
		d := int64(*r.Date)
		switch r.Moment {
		case momentPre:
			if d >= start-int64(a.p.PreBefore) && d <= start+int64(a.p.PreAfter) {
				g.pre.offer(d, start, *r.Score)
			}
		case momentPost:
			if d >= end-int64(a.p.PostBefore) && d <= end+int64(a.p.PostAfter) {
				g.post.offer(d, end, *r.Score)
			}
		}
	}

	var complete, anyPre, anyPost bool
	for i := range a.groups {
		g := &a.groups[i]
		anyPre = anyPre || g.pre.ok
		anyPost = anyPost || g.post.ok
		pair := g.pre.ok && g.post.ok
		complete = complete || pair
		for _, o := range [2]string{org, schemas.NationalCode} {
			acc := a.outcome(outcomeKey{o, period, g.instrument, g.scale})
			acc.nTrajectories++
			if pair {
				acc.addPair(g.in, g.pre.score, g.post.score)
			}
		}
	}

	prestaties := [2]string{schemas.PrestatieAll, ""}
	if t.Prestatie != nil && *t.Prestatie != "" {
		prestaties[1] = *t.Prestatie
	}
	for _, o := range [2]string{org, schemas.NationalCode} {
		for _, p := range prestaties {
			if p == "" {
				continue
			}
			k := responseKey{o, period, p}
			acc := a.response[k]
			if acc == nil {
				acc = &responseAcc{}
				a.response[k] = acc
			}
			acc.trajectories++
			switch {
			case complete:
				acc.completers++
			case anyPre:
				acc.dropouts++
			case anyPost:
				acc.nonstarters++
			default:
				acc.nonresponders++
			}
		}
	}
}

// group returns the scratch group of instrument and scale, adding it on
// first use; nil when the instrument table does not know them.
func (a *romAggregator) group(instrument, scale string) *measGroup {
	for i := range a.groups {
		if a.groups[i].instrument == instrument && a.groups[i].scale == scale {
			return &a.groups[i]
		}
	}
	in, ok := a.p.Instruments.Lookup(instrument, scale)
	if !ok {
		return nil
	}
	a.groups = append(a.groups, measGroup{instrument: instrument, scale: scale, in: in})
	return &a.groups[len(a.groups)-1]
}

func (a *romAggregator) outcome(k outcomeKey) *outcomeAcc {
	acc := a.outcomes[k]
	if acc == nil {
		acc = &outcomeAcc{}
		a.outcomes[k] = acc
	}
	return acc
}

// addPair accounts one pre/post pair.
func (acc *outcomeAcc) addPair(in *schemas.Instrument, pre, post float64) {
	acc.nPairs++
	acc.pre.add(pre)
	acc.post.add(post)
	// better is the score that is better, worse the other: improvement =
	// better − worse.
	better, worse := post, pre
	if in.HigherIsWorse {
		better, worse = pre, post
	}
	acc.impr.add(better - worse)
	switch {
	case cmpDiff(better, worse, in.ReliableChange) >= 0:
		if clinical(in, pre) && !clinical(in, post) {
			acc.recovered++
		} else {
			acc.improved++
		}
	case cmpDiff(worse, better, in.ReliableChange) >= 0: // improvement ≤ −reliable change
		acc.deteriorated++
	default:
		acc.unchanged++
	}
}

// clinical reports whether score is on the clinical side of the cut-off; a
// score at the cut-off is.
func clinical(in *schemas.Instrument, score float64) bool {
	if in.HigherIsWorse {
		return score >= in.ClinicalCutoff
	}
	return score <= in.ClinicalCutoff
}

// cmpDiff returns the sign of (a − b) − c, with a, b and c taken as the
// decimals they were written as: the shortest decimal that reads back as the
// same float64. Scores come from decimal text, so 0.7 − 0.2 is exactly 0.5
// here, where float64 arithmetic gives 0.49999999999999994. Far from 0 the
// float64 result decides; near it, exact rational arithmetic does.
func cmpDiff(a, b, c float64) int {
	d := a - b - c
	if tol := 1e-9 * (1 + math.Abs(a) + math.Abs(b) + math.Abs(c)); math.Abs(d) > tol || math.IsNaN(d) {
		return cmp.Compare(d, 0)
	}
	x, y, z := decimalRat(a), decimalRat(b), decimalRat(c)
	x.Sub(x, y)
	return x.Cmp(z)
}

func decimalRat(f float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok { // not finite; cannot be a validated score
		r = new(big.Rat).SetFloat64(0)
	}
	return r
}

// halfYear returns the period label of a date: "YYYY-H1" or "YYYY-H2".
func halfYear(d int32) string {
	t := schemas.Date(d).Time()
	h := "-H1"
	if t.Month() > time.June {
		h = "-H2"
	}
	return strconv.Itoa(t.Year()) + h
}

// finish accounts the last trajectory and returns the partitions by period.
// The aggregator must not be used afterwards.
func (a *romAggregator) finish() (outcomes map[string]partition[schemas.ROMOutcome], response map[string]partition[schemas.ROMResponse]) {
	a.flush()
	outcomes = map[string]partition[schemas.ROMOutcome]{}
	response = map[string]partition[schemas.ROMResponse]{}

	// Outcomes: one suppression group per period, instrument and scale.
	okeys := sortedKeys(a.outcomes, func(x, y outcomeKey) int {
		return cmp.Or(cmp.Compare(x.period, y.period), cmp.Compare(x.instrument, y.instrument),
			cmp.Compare(x.scale, y.scale), cmp.Compare(x.org, y.org))
	})
	rowsByPeriod := map[string][]schemas.ROMOutcome{}
	for len(okeys) > 0 {
		n := 1
		for n < len(okeys) && okeys[n].period == okeys[0].period &&
			okeys[n].instrument == okeys[0].instrument && okeys[n].scale == okeys[0].scale {
			n++
		}
		group := okeys[:n]
		okeys = okeys[n:]
		v := suppressGroup(group, a.p.MinCell,
			func(k *outcomeKey) string { return k.org },
			func(k *outcomeKey) int64 { return a.outcomes[*k].nPairs })
		for i, k := range group {
			in, _ := a.p.Instruments.Lookup(k.instrument, k.scale)
			row := schemas.ROMOutcome{Organisation: k.org, Instrument: k.instrument, Scale: k.scale,
				ParamsProvisional: in != nil && in.Provisional}
			if v[i] == published {
				a.outcomes[k].fill(&row)
			} else {
				row.Suppressed = true
			}
			rowsByPeriod[k.period] = append(rowsByPeriod[k.period], row)
		}
	}
	for period, rows := range rowsByPeriod {
		slices.SortFunc(rows, func(x, y schemas.ROMOutcome) int {
			return cmp.Or(cmp.Compare(x.Organisation, y.Organisation), cmp.Compare(x.Instrument, y.Instrument),
				cmp.Compare(x.Scale, y.Scale))
		})
		outcomes[period] = partition[schemas.ROMOutcome]{Rows: rows, Sources: sortedSet(a.sources[period])}
	}

	// Response: one suppression group per period and prestatie.
	rkeys := sortedKeys(a.response, func(x, y responseKey) int {
		return cmp.Or(cmp.Compare(x.period, y.period), cmp.Compare(x.prestatie, y.prestatie), cmp.Compare(x.org, y.org))
	})
	respByPeriod := map[string][]schemas.ROMResponse{}
	for len(rkeys) > 0 {
		n := 1
		for n < len(rkeys) && rkeys[n].period == rkeys[0].period && rkeys[n].prestatie == rkeys[0].prestatie {
			n++
		}
		group := rkeys[:n]
		rkeys = rkeys[n:]
		v := suppressGroup(group, a.p.MinCell,
			func(k *responseKey) string { return k.org },
			func(k *responseKey) int64 { return a.response[*k].trajectories })
		for i, k := range group {
			row := schemas.ROMResponse{Organisation: k.org, Prestatie: k.prestatie}
			if v[i] == published {
				acc := a.response[k]
				row.NTrajectories = ptr(acc.trajectories)
				row.NCompleters = ptr(acc.completers)
				row.NDropouts = ptr(acc.dropouts)
				row.NNonstarters = ptr(acc.nonstarters)
				row.NNonresponders = ptr(acc.nonresponders)
				row.ResponseRate = pct(acc.completers, acc.trajectories)
			} else {
				row.Suppressed = true
			}
			respByPeriod[k.period] = append(respByPeriod[k.period], row)
		}
	}
	for period, rows := range respByPeriod {
		slices.SortFunc(rows, func(x, y schemas.ROMResponse) int {
			return cmp.Or(cmp.Compare(x.Organisation, y.Organisation), cmp.Compare(x.Prestatie, y.Prestatie))
		})
		response[period] = partition[schemas.ROMResponse]{Rows: rows, Sources: sortedSet(a.sources[period])}
	}
	return outcomes, response
}

// fill sets the counts and figures of an unsuppressed row.
func (acc *outcomeAcc) fill(row *schemas.ROMOutcome) {
	n := acc.nPairs
	row.NTrajectories = ptr(acc.nTrajectories)
	row.NPairs = ptr(n)
	if n == 0 {
		return
	}
	mi := acc.impr.mean()
	row.MeanPre = ptr(acc.pre.mean())
	row.MeanPost = ptr(acc.post.mean())
	row.MeanImprovement = ptr(mi)
	if n >= 2 {
		half := 1.96 * acc.impr.sd() / math.Sqrt(float64(n))
		row.CI95Low = ptr(mi - half)
		row.CI95High = ptr(mi + half)
		if sd := acc.pre.sd(); sd > 0 {
			row.EffectSize = ptr(mi / sd)
		}
	}
	row.PctRecovered = pct(acc.recovered, n)
	row.PctImproved = pct(acc.improved, n)
	row.PctUnchanged = pct(acc.unchanged, n)
	row.PctDeteriorated = pct(acc.deteriorated, n)
}

// moments accumulates a mean (Neumaier-compensated sum) and a sum of squared
// deviations (Welford). Both are deterministic for a given order of values.
type moments struct {
	n         int64
	sum, comp float64 // Neumaier
	wmean, m2 float64 // Welford
}

func (m *moments) add(x float64) {
	m.n++
	t := m.sum + x
	if math.Abs(m.sum) >= math.Abs(x) {
		m.comp += (m.sum - t) + x
	} else {
		m.comp += (x - t) + m.sum
	}
	m.sum = t
	d := x - m.wmean
	m.wmean += d / float64(m.n)
	m.m2 += d * (x - m.wmean)
}

func (m *moments) mean() float64 { return (m.sum + m.comp) / float64(m.n) }

// sd is the sample standard deviation; callers ensure n ≥ 2.
func (m *moments) sd() float64 { return math.Sqrt(max(m.m2, 0) / float64(m.n-1)) }

// pct returns 100·count/of, nil when of is 0. The product is exact, so the
// result is the correctly rounded quotient.
func pct(count, of int64) *float64 {
	if of == 0 {
		return nil
	}
	return ptr(float64(100*count) / float64(of))
}

func sortedKeys[K comparable, V any](m map[K]V, cmpKeys func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKeys)
	return keys
}

func sortedSet(s map[int]struct{}) []int {
	out := make([]int, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
