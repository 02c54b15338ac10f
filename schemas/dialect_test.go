package schemas

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want Date
		ok   bool
	}{
		{"2026-03-05", date(2026, 3, 5), true},
		{"05-03-2026", date(2026, 3, 5), true},
		{"5-3-2026", date(2026, 3, 5), true},
		{"5-03-2026", date(2026, 3, 5), true},
		{"05-3-2026", date(2026, 3, 5), true},
		{"05/03/2026", date(2026, 3, 5), true},
		{"5/3/2026", date(2026, 3, 5), true},
		{"31-12-2026", date(2026, 12, 31), true},
		{"29-02-2024", date(2024, 2, 29), true},
		{"2000-02-29", date(2000, 2, 29), true},
		{"1900-01-01", date(1900, 1, 1), true},
		{"2100-12-31", date(2100, 12, 31), true},
		{"01-01-1970", 0, true},
		{"31-02-2026", 0, false},
		{"2026-13-01", 0, false},
		{"1-1-26", 0, false},
		{"29-02-2025", 0, false},
		{"1900-02-29", 0, false},
		{"31-04-2026", 0, false},
		{"00-01-2026", 0, false},
		{"01-00-2026", 0, false},
		{"2026-01-00", 0, false},
		{"1899-12-31", 0, false},
		{"2101-01-01", 0, false},
		{"2026-3-5", 0, false},
		{"2026/03/05", 0, false},
		{"05-03/2026", 0, false},
		{"05.03.2026", 0, false},
		{"123-3-2026", 0, false},
		{"5-123-2026", 0, false},
		{"5-3-02026", 0, false},
		{"+5-3-2026", 0, false},
		{"5--2026", 0, false},
		{"2026-03-05 00:00:00", 0, false},
		{" 2026-03-05", 0, false},
		{"20260305", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"--", 0, false},
		{"a-b-cdef", 0, false},
		{"2026-0a-05", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseDate(%q): got %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDaysFromCivil compares the reader's date arithmetic with DateOf on
// every day it accepts.
func TestDaysFromCivil(t *testing.T) {
	n := 0
	for d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() <= 2100; d = d.AddDate(0, 0, 1) {
		want := DateOf(d.Year(), d.Month(), d.Day())
		if got := Date(daysFromCivil(d.Year(), int(d.Month()), d.Day())); got != want {
			t.Fatalf("%s: got %d, want %d", d.Format(time.DateOnly), got, want)
		}
		n++
	}
	if n != 73414 {
		t.Errorf("checked %d days, want 73414", n)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"12", 12, true},
		{"007", 7, true},
		{"+12", 12, true},
		{"-3", -3, true},
		{"12,0", 12, true},
		{"12.0", 12, true},
		{"12,00", 12, true},
		{"12.00", 12, true},
		{"99999999999999999999999", math.MaxInt64, true},
		{"-99999999999999999999999", -math.MaxInt64, true},
		{"1.000", 0, false},
		{"12,000", 0, false},
		{"12,5", 0, false},
		{"12,01", 0, false},
		{"12,", 0, false},
		{",0", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"+-1", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1 000", 0, false},
		{" 12", 0, false},
		{"١٢", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseInt(%q): got %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"12", 12, true},
		{"12,5", 12.5, true},
		{"12.5", 12.5, true},
		{"-1,25", -1.25, true},
		{"+3", 3, true},
		{",5", 0.5, true},
		{"5.", 5, true},
		{"0,000", 0, true},
		{strings.Repeat("9", 400), math.Inf(1), true},
		{"-" + strings.Repeat("9", 400) + ",5", math.Inf(-1), true},
		{"", 0, false},
		{"-", 0, false},
		{",", 0, false},
		{"1,000.5", 0, false},
		{"1.2.3", 0, false},
		{"1 000", 0, false},
		{"1e3", 0, false},
		{"1E3", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"-Inf", 0, false},
		{"infinity", 0, false},
		{"0x1p3", 0, false},
		{"1_000", 0, false},
		{"--1", 0, false},
		{"1-", 0, false},
		{"١٢", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDecimal(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseDecimal(%q): got %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCompleteEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"ab\xc3", 2},
		{"ab\xc3\xa9", 4},
		{"ab\xe2\x82", 2},
		{"ab\xe2\x82\xac", 5},
		{"ab\xf0\x9d\x84", 2},
		{"ab\xf0\x9d\x84\x9e", 6},
		{"ab\x82", 3},           // invalid, left to utf8.Valid
		{"ab\xe2\x41", 4},       // invalid, left to utf8.Valid
		{"\x80\x80\x80\x80", 4}, // invalid, left to utf8.Valid
	}
	for _, tt := range tests {
		if got := completeEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("completeEnd(%q): got %d, want %d", tt.in, got, tt.want)
		}
	}
}
