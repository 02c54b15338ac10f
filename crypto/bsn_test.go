package crypto

import "testing"

func TestNormalizeBSN(t *testing.T) {
	tests := []struct {
		in         string
		bsn        string
		padded, ok bool
	}{
		// Valid, checked by hand (weights 9 8 7 6 5 4 3 2 −1):
		// 111222333: 9+8+7+12+10+8+9+6−3 = 66 = 6·11 ✓
		{"111222333", "111222333", false, true},
		// 123456782: 9+16+21+24+25+24+21+16−2 = 154 = 14·11 ✓
		{"123456782", "123456782", false, true},
		// 999999990: 9·(9+8+7+6+5+4+3+2) − 0 = 9·44 = 396 = 36·11 ✓
		{"999999990", "999999990", false, true},
		// 100000009: 9 − 9 = 0 = 0·11 ✓ (zero is a multiple of 11; not all zeros)
		{"100000009", "100000009", false, true},
		// White space around is ignored.
		{"  111222333\t", "111222333", false, true},
		{"\u00a0111222333\n", "111222333", false, true},

		// Eight digits, valid once padded (Excel dropped the leading 0):
		// 012345672: 0+8+14+18+20+20+18+14−2 = 110 = 10·11 ✓
		{"12345672", "012345672", true, true},
		// 010000008: 8 − 8 = 0 ✓
		{" 10000008 ", "010000008", true, true},

		// Eight digits, invalid after padding:
		// 011122233: 0+8+7+6+10+8+6+6−3 = 48 = 4·11+4 ✗
		{"11122233", "", false, false},
		// 012345678: 0+8+14+18+20+20+18+14−8 = 104 = 9·11+5 ✗
		{"12345678", "", false, false},
		// All zeros pass the sum but are no BSN.
		{"00000000", "", false, false},

		// Nine digits, invalid:
		// 111222334: 66 − 1 = 65 ✗
		{"111222334", "", false, false},
		// 123456789: 154 − 7 = 147 = 13·11+4 ✗
		{"123456789", "", false, false},
		{"000000000", "", false, false},

		// Not a BSN at all.
		{"", "", false, false},
		{"   ", "", false, false},
		{"1234567", "", false, false},     // 7 digits
		{"1112223330", "", false, false},  // 10 digits
		{"0111222333", "", false, false},  // 10 digits, even with a leading zero
		{"11122233a", "", false, false},   // a letter
		{"111 222 333", "", false, false}, // inner spaces
		{"111.222.333", "", false, false},
		{"+11222333", "", false, false},
		{"-11222333", "", false, false},
		{"1.11E+08", "", false, false},                         // what Excel may make of it
		{"١١١٢٢٢٣٣٣", "", false, false},                        // Arabic-Indic digits
		{"１１１２２２３３３", "", false, false},                        // full-width digits
		{"11122233\u0663", "", false, false},                   // 8 ASCII digits and one other
		{"111222333\x00", "", false, false},                    // NUL
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "", false, false}, // 8 bytes, not digits
	}
	for _, tt := range tests {
		bsn, padded, ok := NormalizeBSN(tt.in)
		if bsn != tt.bsn || padded != tt.padded || ok != tt.ok {
			t.Errorf("NormalizeBSN(%q) = %q, %v, %v; want %q, %v, %v", tt.in, bsn, padded, ok, tt.bsn, tt.padded, tt.ok)
		}
	}
}

// The elfproef catches every single wrong digit: changing digit i by δ
// (0 < |δ| ≤ 9) changes the sum by w[i]·δ, and 11, a prime, divides neither
// w[i] (|w[i]| ≤ 9) nor δ.
func TestNormalizeBSNCatchesSingleDigitErrors(t *testing.T) {
	for _, valid := range []string{"111222333", "123456782", "999999990"} {
		for i := range 9 {
			for d := byte('0'); d <= '9'; d++ {
				if d == valid[i] {
					continue
				}
				changed := valid[:i] + string(d) + valid[i+1:]
				if _, _, ok := NormalizeBSN(changed); ok {
					t.Errorf("%s (from %s) passes the elfproef", changed, valid)
				}
			}
		}
	}
}

func FuzzNormalizeBSN(f *testing.F) {
	for _, s := range []string{"111222333", "12345672", "", "000000000", " 1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bsn, padded, ok := NormalizeBSN(s)
		if !ok {
			if bsn != "" || padded {
				t.Fatalf("NormalizeBSN(%q) = %q, %v, false", s, bsn, padded)
			}
			return
		}
		if len(bsn) != 9 {
			t.Fatalf("NormalizeBSN(%q) = %q: not 9 characters", s, bsn)
		}
		// Normalising is idempotent.
		if again, p, ok := NormalizeBSN(bsn); again != bsn || p || !ok {
			t.Fatalf("NormalizeBSN(%q) = %q, %v, %v", bsn, again, p, ok)
		}
	})
}
