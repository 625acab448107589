package jsonb_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgwerk/werkcron/internal/jsonb"
	"github.com/pgwerk/werkcron/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Check says yes exactly when the server's jsonb takes the text, at the edges of
// numeric's range and for the strings jsonb refuses.
func TestCheckAgreesWithTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	zeros := strings.Repeat
	cases := []string{
		`[]`, `{}`, `null`, `true`, `"x"`, `{"a": [1, -2.5, 3e4, "e", true, null]}`,
		`[1e999999]`, `[-1e999999]`, `[1E+999999]`, `[1e-999999]`, `{"k": 1e999999}`,
		`[1.7976931348623157e308]`, `[4.9406564584124654e-324]`, `[1e308]`, `[1e309]`,
		`[1e131071]`, `[1e131072]`, `[-9.99e131071]`, `[10e131070]`, `[10e131071]`,
		`[0.001e131074]`, `[0.001e131075]`,
		`[1` + zeros("0", 131071) + `]`, `[1` + zeros("0", 131072) + `]`, `[1` + zeros("0", 131072) + `e-1]`,
		`[1e-16383]`, `[1e-16384]`, `[1.5e-16383]`, `[1.0e-16383]`, `[12e-16382]`,
		`[1.` + zeros("0", 16383) + `]`, `[1.` + zeros("0", 16384) + `]`,
		`[0.` + zeros("0", 16384) + `e16384]`, `[0.` + zeros("0", 16384) + `e16383]`,
		`[0e999999]`, `[0e-999999]`, `[-0.0e-5]`, `[0e1073741822]`, `[0e1073741824]`, `[0e-1073741822]`, `[0e-16383]`, `[0e-16384]`,
		`[0.0e99999999999]`, `[1e00000000000000000000000000005]`,
		`["\u0000"]`, `{"\u0000": 1}`, `["a\\u0000"]`, `["\u0001"]`, `["\uffff"]`, `["\ufffe"]`,
		`["\ud800"]`, `["\udc00"]`, `["\ud83d\ude00"]`, `["\uD83D\uDE00"]`, `["\ud83d\u0041"]`, `["\ude00\ud83d"]`,
		`["\ud83d\ud83d\ude00"]`, `["\ud83dx"]`, `["\ud83d\\ude00"]`,
		"[\"\xff\"]", "[\"\xc3\xa9\"]", `["é"]`,
	}
	// (Not 0e1073741823: refused by PostgreSQL 15, taken by 16 and later; Check refuses.)
	for _, m := range []string{"1", "-9.99", "0.01", "10", "0.0", "123.456"} {
		for _, e := range []string{"-16386", "-16385", "-16384", "-16383", "-16382", "-16381", "-16380",
			"131068", "131069", "131070", "131071", "131072", "131073", "131074"} {
			cases = append(cases, "["+m+"e"+e+"]")
		}
	}
	for _, c := range cases {
		if !json.Valid([]byte(c)) {
			t.Fatalf("not valid JSON: %.60s", c)
		}
		_, serverErr := conn.Exec(ctx, `SELECT $1::text::jsonb`, c)
		err := jsonb.Check([]byte(c))
		if (serverErr == nil) != (err == nil) {
			t.Errorf("%.60s: Check says %v; the server says %v", c, err, serverErr)
		}
		if err != nil && !errors.Is(err, jsonb.ErrRefused) {
			t.Errorf("%.60s: %v does not wrap ErrRefused", c, err)
		}
	}
	if err := jsonb.Check([]byte(`[1e999999]`)); err == nil || !strings.Contains(err.Error(), "1e999999") {
		t.Errorf("Check([1e999999]) = %v; want it to quote the number", err)
	}
}

// Check never panics on valid JSON, and takes what encoding/json writes from Go values.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`[1e999999]`, `["\ud83d\ude00"]`, `["\ud800"]`, `{"a": [0.5, -0, "\\"]}`, `"\u0000"`, `-1.5E+3`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		_ = jsonb.Check([]byte(s)) // must not panic
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return // a number beyond float64
		}
		again, _ := json.Marshal(v)
		if err := jsonb.Check(again); err != nil && !strings.Contains(string(again), `\u0000`) {
			t.Errorf("Check(%s) = %v for what encoding/json wrote from %q", again, err, s)
		}
	})
}
