// Package jsonb tells, without asking the server, whether PostgreSQL's jsonb takes a
// JSON text, and if not, why: so that a value bound for a jsonb column is refused with
// the name of what it came from, not a bare SQL error.
//
// jsonb is stricter than JSON (and than encoding/json, which takes all of these):
//
//   - Numbers are numeric, which has at most 131072 digits before the decimal point
//     and 16383 after it (the exponent counts: 1e131072 and 1e-16384 are refused, and
//     so is 1.0e-16383, whose trailing zero is a digit), and an exponent below
//     1073741823 in size ("value overflows numeric format"). Anything float64 holds
//     fits, and far more: 1e300000 does not, 1e999999 neither.
//   - Strings hold no NUL: \u0000 is refused ("unsupported Unicode escape sequence").
//   - A \u escape of a UTF-16 surrogate must be a high one followed by a low one.
//   - The text must be UTF-8. (This is what a UTF-8 database takes; one in another
//     encoding also refuses characters it has no code for, which Check does not know.)
//
// Checked against the server by this package's test.
package jsonb

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// PostgreSQL's numeric limits (src/include/utils/numeric.h, numeric.c).
const (
	// MaxIntegerDigits is how many digits numeric holds before the decimal point:
	// NUMERIC_WEIGHT_MAX (32767) + 1 base-10000 digits of 4 decimal digits.
	MaxIntegerDigits = 131072
	// MaxFractionDigits is how many digits numeric holds after the decimal point
	// (NUMERIC_DSCALE_MAX).
	MaxFractionDigits = 16383
	// maxExponent: numeric_in refuses an exponent of PG_INT32_MAX/2 and more in size
	// (PostgreSQL 16 and later take exactly PG_INT32_MAX/2, which changes nothing but
	// for a zero: 0e1073741823; we refuse it as 15 does).
	maxExponent = 1<<30 - 1
)

// ErrRefused is wrapped by every error of Check.
var ErrRefused = errors.New("not representable in PostgreSQL's jsonb")

// Check returns nil if jsonb takes raw, which must be valid JSON (json.Valid: Check
// does not look at the syntax); else an error, wrapping ErrRefused, that quotes the
// first value it refuses and says why.
func Check(raw []byte) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("%w: not valid UTF-8", ErrRefused)
	}
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '"':
			n, err := checkString(raw[i:])
			if err != nil {
				return err
			}
			i += n
		case c == '-' || '0' <= c && c <= '9':
			j := i + 1
			for j < len(raw) && isNumberByte(raw[j]) {
				j++
			}
			if err := checkNumber(string(raw[i:j])); err != nil {
				return err
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// checkString checks the string literal s begins with and returns its length.
func checkString(s []byte) (int, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return len(s), nil // not valid JSON
			}
			if s[i+1] != 'u' {
				i++
				continue
			}
			r := hex4(s[i+2:])
			switch {
			case r == 0:
				return 0, fmt.Errorf("%w: \\u0000 in a string: jsonb holds no NUL character", ErrRefused)
			case 0xD800 <= r && r <= 0xDBFF:
				if len(s) < i+12 || s[i+6] != '\\' || s[i+7] != 'u' || !isLowSurrogate(hex4(s[i+8:])) {
					return 0, fmt.Errorf("%w: %s in a string: a UTF-16 high surrogate not followed by a low one", ErrRefused, s[i:i+6])
				}
				i += 11
			case isLowSurrogate(r):
				return 0, fmt.Errorf("%w: %s in a string: a UTF-16 low surrogate without a high one before it", ErrRefused, s[i:i+6])
			default:
				i += 5
			}
		}
	}
	return len(s), nil // not reached for valid JSON
}

func isLowSurrogate(r int) bool { return 0xDC00 <= r && r <= 0xDFFF }

// hex4 is the value of the 4 hex digits s begins with (valid JSON has them).
func hex4(s []byte) int {
	if len(s) < 4 {
		return -1
	}
	v, err := strconv.ParseUint(string(s[:4]), 16, 16)
	if err != nil {
		return -1
	}
	return int(v)
}

// checkNumber checks a JSON number the way numeric_in reads it.
func checkNumber(num string) error {
	s := num
	if s[0] == '-' {
		s = s[1:]
	}
	mantissa, exp := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			mantissa, exp = s[:i], s[i+1:]
			break
		}
	}
	intPart, frac := mantissa, ""
	for i := 0; i < len(mantissa); i++ {
		if mantissa[i] == '.' {
			intPart, frac = mantissa[:i], mantissa[i+1:]
			break
		}
	}
	e, ok := exponent(exp)
	if !ok {
		return refusedNumber(num, fmt.Sprintf("an exponent of %d or more in size, which numeric does not take", maxExponent))
	}
	// Digits after the decimal point, as written (trailing zeros count) and moved by
	// the exponent: numeric's display scale, even for a zero.
	if scale := int64(len(frac)) - e; scale > MaxFractionDigits {
		return refusedNumber(num, fmt.Sprintf("%d digits after the decimal point, where numeric holds at most %d", scale, MaxFractionDigits))
	}
	digits := intPart + frac
	first := 0
	for first < len(digits) && digits[first] == '0' {
		first++
	}
	if first == len(digits) {
		return nil // zero: no integer digits to count
	}
	// The first nonzero digit's power of ten, +1: how many digits before the point.
	if n := int64(len(intPart)) + e - int64(first); n > MaxIntegerDigits {
		return refusedNumber(num, fmt.Sprintf("%d digits before the decimal point, where numeric holds at most %d", n, MaxIntegerDigits))
	}
	return nil
}

// exponent parses a JSON number's exponent ("" for none); false if numeric_in refuses
// it whatever the digits.
func exponent(exp string) (int64, bool) {
	if exp == "" {
		return 0, true
	}
	neg := exp[0] == '-'
	if exp[0] == '-' || exp[0] == '+' {
		exp = exp[1:]
	}
	var e int64
	for i := 0; i < len(exp); i++ {
		if e = e*10 + int64(exp[i]-'0'); e >= maxExponent {
			return 0, false
		}
	}
	if neg {
		e = -e
	}
	return e, true
}

func refusedNumber(num, why string) error {
	if len(num) > 40 {
		num = num[:20] + "..." + num[len(num)-17:]
	}
	return fmt.Errorf("%w: number %s: %s", ErrRefused, num, why)
}
