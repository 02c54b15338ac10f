package schemas

import "testing"

func TestCheckBSN(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		warning Code
	}{
		{"", "", ""},
		{"   ", "", ""},
		{"111222333", "111222333", ""},           // 9+8+7+12+10+8+9+6-3 = 66
		{" 123456782 ", "123456782", ""},         // 9+16+21+24+25+24+21+16-2 = 154
		{"000000012", "000000012", ""},           // 2-2 = 0: passes, though not all zeros
		{"999999990", "999999990", ""},           // 9*44 = 396 = 36*11
		{"12345672", "012345672", CodeBSNPadded}, // 8+14+18+20+20+18+14-2 = 110
		{"123456789", "", CodeBSNElfproef},       // 156-9 = 147 = 13*11+4
		{"250000004", "", CodeBSNElfproef},       // 18-4 = 14
		{"12345678", "", CodeBSNElfproef},        // padded 012345678: 112-8 = 104; no padded warning
		{"000000000", "", CodeBSNElfproef},
		{"00000000", "", CodeBSNElfproef},
		{"1234567820", "", CodeBSNElfproef},
		{"1234567", "", CodeBSNElfproef},
		{"12345678a", "", CodeBSNElfproef},
		{"12345678 ", "", CodeBSNElfproef}, // trimmed to 8 digits, padded, fails
		{"123 456 782", "", CodeBSNElfproef},
		{"123.456.782", "", CodeBSNElfproef},
		{"-12345672", "", CodeBSNElfproef},
		{"+12345672", "", CodeBSNElfproef},
		{"1234567 2", "", CodeBSNElfproef},
		{"１２３４５６７８２", "", CodeBSNElfproef}, // full-width digits
	}
	for _, tt := range tests {
		got, w := checkBSN(tt.in)
		if got != tt.want || w != tt.warning {
			t.Errorf("checkBSN(%q): got %q, %q; want %q, %q", tt.in, got, w, tt.want, tt.warning)
		}
	}
}
