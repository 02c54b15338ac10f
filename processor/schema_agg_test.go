package processor

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ttpgate/ttpgate/schemas"
)

// columnsOf writes one row of T and returns the file's columns as
// "name logical-type".
func columnsOf[T any](t *testing.T, row T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := writeRows(&buf, []T{row}, writerOptions("test", nil)); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, field := range f.Schema().Fields() {
		s := field.Name()
		if lt := field.Type().LogicalType(); lt != nil {
			s += " " + lt.String()
		} else {
			s += " " + field.Type().Kind().String()
		}
		if field.Optional() {
			s += " optional"
		}
		cols = append(cols, s)
	}
	// And it reads back.
	r := parquet.NewGenericReader[T](f)
	got := make([]T, 1)
	if n, _ := r.Read(got); n != 1 {
		t.Fatalf("read back %d rows", n)
	}
	return cols
}

func TestOutputSchemasAgg(t *testing.T) {
	n, x := int64(1), 1.5
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"rom_outcomes", columnsOf(t, schemas.ROMOutcome{Organisation: "NL", NPairs: &n, MeanPre: &x}), []string{
			"organisation STRING", "instrument STRING", "scale STRING", "n_trajectories INT(64,true) optional",
			"n_pairs INT(64,true) optional", "mean_pre DOUBLE optional", "mean_post DOUBLE optional",
			"mean_improvement DOUBLE optional", "ci95_low DOUBLE optional", "ci95_high DOUBLE optional",
			"effect_size DOUBLE optional", "pct_recovered DOUBLE optional", "pct_improved DOUBLE optional",
			"pct_unchanged DOUBLE optional", "pct_deteriorated DOUBLE optional", "params_provisional BOOLEAN",
			"suppressed BOOLEAN"}},
		{"rom_response", columnsOf(t, schemas.ROMResponse{}), []string{
			"organisation STRING", "prestatie STRING", "n_trajectories INT(64,true) optional", "n_completers INT(64,true) optional",
			"n_dropouts INT(64,true) optional", "n_nonstarters INT(64,true) optional", "n_nonresponders INT(64,true) optional",
			"response_rate DOUBLE optional", "suppressed BOOLEAN"}},
		{"ig_indicators", columnsOf(t, schemas.IGIndicator{Unit: "‰"}), []string{
			"vsv STRING", "indicator_id STRING", "indicator_name STRING", "numerator INT(64,true) optional",
			"denominator INT(64,true) optional", "score DOUBLE optional", "unit STRING", "n_practices INT(64,true) optional",
			"suppressed BOOLEAN"}},
		{"ig_odb", columnsOf(t, schemas.IGODB{MeetperiodeBeginDatum: 20089}), []string{
			"IndicatorsetNaam STRING", "IndicatorsetCode STRING", "Verslagjaar INT(64,true)", "VSV STRING",
			"IndicatorCode STRING", "IndicatorNaam STRING", "IndicatorEenheid STRING",
			"IndicatorWaarde DOUBLE optional", "Teller INT(64,true) optional", "Noemer INT(64,true) optional",
			"Indicator_nb BOOLEAN", "Opmerking STRING optional", "MeetperiodeBeginDatum DATE",
			"MeetperiodeEindDatum DATE", "Bron STRING"}},
		{"deliveries", columnsOf(t, schemas.DeliveryRow{ReceivedAt: time.Now().UTC(), ProcessedAt: time.Now().UTC()}), []string{
			"delivery_id STRING", "tenant STRING", "channel STRING", "file_name STRING",
			"received_at TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)", "size_bytes INT(64,true)", "sha256 STRING",
			"dataset STRING", "status STRING", "rows_total INT(64,true)", "rows_accepted INT(64,true)", "rows_rejected INT(64,true)",
			"processed_at TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)"}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.got, tt.want)
		}
	}
}
