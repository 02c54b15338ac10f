package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/ttpgate/ttpgate/internal/store"
	"github.com/ttpgate/ttpgate/schemas"
)

// summarizeOutputs prints, per output table, its files and rows and a few
// headline figures, read back from the Parquet files. Every figure is an
// aggregate of the published (not suppressed) rows.
func summarizeOutputs(ctx context.Context, w io.Writer, st store.Store) error {
	line := func(table string, rows int, files []string, figures string) {
		fmt.Fprintf(w, "   %-17s %4d rows  %s\n     %s\n", table, rows, partitions(files), figures)
	}

	outcomes, files, err := readTable[schemas.ROMOutcome](ctx, st, "out/kibg/rom_outcomes/")
	if err != nil {
		return err
	}
	orgs := map[string]bool{}
	var pairs, improved, recovered float64
	suppressed := 0
	for _, r := range outcomes {
		if r.Organisation != schemas.NationalCode {
			orgs[r.Organisation] = true
		}
		if r.Suppressed {
			suppressed++
			continue
		}
		if r.Organisation == schemas.NationalCode && r.NPairs != nil {
			n := float64(*r.NPairs)
			pairs += n
			improved += n * (deref(r.PctImproved) + deref(r.PctRecovered)) / 100
			recovered += n * deref(r.PctRecovered) / 100
		}
	}
	line("kibg/rom_outcomes", len(outcomes), files, fmt.Sprintf(
		"%s; NL, all periods: %.0f pre/post pairs, %s improved or recovered (%s recovered); %d suppressed",
		plural(len(orgs), "organisation"), pairs, pct(improved, pairs), pct(recovered, pairs), suppressed))

	response, files, err := readTable[schemas.ROMResponse](ctx, st, "out/kibg/rom_response/")
	if err != nil {
		return err
	}
	var trajectories, completers int64
	suppressed = 0
	for _, r := range response {
		if r.Suppressed {
			suppressed++
			continue
		}
		if r.Organisation == schemas.NationalCode && r.Prestatie == schemas.PrestatieAll && r.NTrajectories != nil && r.NCompleters != nil {
			trajectories += *r.NTrajectories
			completers += *r.NCompleters
		}
	}
	line("kibg/rom_response", len(response), files, fmt.Sprintf(
		"NL, all periods: response rate %s (%d of %d trajectories measured before and after); %d suppressed",
		pct(float64(completers), float64(trajectories)), completers, trajectories, suppressed))

	indicators, files, err := readTable[schemas.IGIndicator](ctx, st, "out/dhd/ig_indicators/")
	if err != nil {
		return err
	}
	vsvs := map[string]bool{}
	national := map[string]schemas.IGIndicator{} // the last year's national rows
	suppressed = 0
	for _, r := range indicators {
		if r.VSV != schemas.NationalCode {
			vsvs[r.VSV] = true
		}
		if r.Suppressed {
			suppressed++
		} else if r.VSV == schemas.NationalCode {
			national[r.IndicatorID] = r
		}
	}
	figure := func(id string) string {
		r, ok := national[id]
		if !ok || r.Score == nil || r.Numerator == nil || r.Denominator == nil {
			return id + " suppressed"
		}
		return fmt.Sprintf("%s %s %.1f %s (%d/%d)", id, r.IndicatorName, *r.Score, r.Unit, *r.Numerator, *r.Denominator)
	}
	line("dhd/ig_indicators", len(indicators), files, fmt.Sprintf("%s; NL: %s, %s; %d suppressed",
		plural(len(vsvs), "VSV"), figure("IG-01"), figure("IG-06"), suppressed))

	odb, files, err := readTable[schemas.IGODB](ctx, st, "out/zin/ig_odb/")
	if err != nil {
		return err
	}
	codes, years := map[string]bool{}, map[int64]bool{}
	notPublished := 0
	for _, r := range odb {
		codes[r.IndicatorCode] = true
		years[r.Verslagjaar] = true
		if r.IndicatorNB {
			notPublished++
		}
	}
	line("zin/ig_odb", len(odb), files, fmt.Sprintf("%d indicators, Verslagjaar %s; %d suppressed (Indicator_nb)",
		len(codes), joinSorted(slices.Collect(maps.Keys(years))), notPublished))

	deliveries, files, err := readTable[schemas.DeliveryRow](ctx, st, "out/ops/deliveries/")
	if err != nil {
		return err
	}
	channels, statuses := map[string]int{}, map[string]int{}
	var accepted, total int64
	for _, r := range deliveries {
		channels[r.Channel]++
		statuses[r.Status]++
		accepted += r.RowsAccepted
		total += r.RowsTotal
	}
	line("ops/deliveries", len(deliveries), files, fmt.Sprintf("channels: %s; status: %s; %d of %d rows accepted",
		counts(channels), counts(statuses), accepted, total))
	return nil
}

// readTable reads every Parquet file under prefix; it returns their rows
// and the files' keys relative to prefix.
func readTable[T any](ctx context.Context, st store.Store, prefix string) ([]T, []string, error) {
	var rows []T
	var files []string
	for info, err := range st.List(ctx, prefix) {
		if err != nil {
			return nil, nil, err
		}
		if !strings.HasSuffix(info.Key, ".parquet") {
			continue
		}
		b, err := store.ReadAll(ctx, st, info.Key, 1<<30)
		if err != nil {
			return nil, nil, err
		}
		got, err := parquet.Read[T](bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", info.Key, err)
		}
		rows = append(rows, got...)
		files = append(files, strings.TrimPrefix(info.Key, prefix))
	}
	return rows, files, nil
}

// partitions names files compactly: the hive partitions of one file name
// as "period={2025-H1,2025-H2}/part-00000.parquet", other lists in full.
func partitions(files []string) string {
	if len(files) < 2 {
		return strings.Join(files, "")
	}
	var column, name string
	var values []string
	for _, f := range files {
		dir, file, ok := strings.Cut(f, "/")
		col, val, isHive := strings.Cut(dir, "=")
		if !ok || !isHive || strings.Contains(file, "/") || (column != "" && (col != column || file != name)) {
			return strings.Join(files, ", ")
		}
		column, name = col, file
		values = append(values, val)
	}
	return column + "={" + strings.Join(values, ",") + "}/" + name
}

// pct formats part/whole as a percentage, "-" when whole is 0.
func pct(part, whole float64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*part/whole)
}

// counts formats a tally as "a 1, b 2", in key order.
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// plural formats a count of things: "1 VSV", "2 VSVs".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func joinSorted(years []int64) string {
	slices.Sort(years)
	var parts []string
	for _, y := range years {
		parts = append(parts, fmt.Sprint(y))
	}
	return strings.Join(parts, ", ")
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
