package cluster

import (
	"bytes"
	"net/http"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	body := bytes.Repeat([]byte("x"), MaxBody)
	b, err := encodeFrame(requestHead{Method: "POST", URI: "/jobs/app?x=1", Header: http.Header{"X-Api-Key": {"k"}}}, body)
	if err != nil {
		t.Fatal(err)
	}
	h, got, err := decodeRequest(b)
	if err != nil || h.Method != "POST" || h.URI != "/jobs/app?x=1" || h.Header.Get("X-Api-Key") != "k" || !bytes.Equal(got, body) {
		t.Fatalf("decoded %+v, %d bytes, %v", h, len(got), err)
	}
	big, _ := encodeFrame(requestHead{Method: "POST", URI: "/"}, append(body, 'y'))
	if _, _, err := decodeRequest(big); err == nil {
		t.Error("a body over 1 MiB was accepted")
	}
	for _, bad := range []string{"", "GAF1", "GAF1\x00\x00\x00\x09{}", "XXXX\x00\x00\x00\x02{}", "GAF1\x00\x00\x00\x02{}"} {
		if _, _, err := decodeRequest([]byte(bad)); err == nil {
			t.Errorf("request %q accepted", bad)
		}
		if _, _, err := decodeResponse([]byte(bad)); err == nil {
			t.Errorf("response %q accepted", bad)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	ok, _ := encodeFrame(requestHead{Method: "GET", URI: "/jobs", Header: http.Header{"X-Api-Key": {"k"}}}, []byte("body"))
	f.Add(ok)
	f.Add([]byte("GAF1\x00\x00\x00\x02{}"))
	f.Add([]byte("GAF1\xff\xff\xff\xff{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := decodeRequest(b)
		if err != nil {
			return
		}
		if h.Method == "" || h.URI == "" || h.URI[0] != '/' || len(body) > MaxBody {
			t.Fatalf("accepted %+v with %d bytes", h, len(body))
		}
		again, err := encodeFrame(h, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, b2, err := decodeRequest(again); err != nil || !bytes.Equal(b2, body) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	ok, _ := encodeFrame(responseHead{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}}, []byte("{}"))
	f.Add(ok)
	e, _ := encodeFrame(responseHead{Error: "no"}, nil)
	f.Add(e)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _, err := decodeResponse(b)
		if err == nil && h.Error == "" && (h.Status < 100 || h.Status > 999) {
			t.Fatalf("accepted status %d", h.Status)
		}
	})
}

func TestToken(t *testing.T) {
	for in, want := range map[string]string{"": "_", "web": "web", "a.b": "a_b", "a b\t": "a_b_", "*": "_", ">x": "_x", "é": "é"} {
		if got := token(in); got != want {
			t.Errorf("token(%q) = %q, want %q", in, got, want)
		}
	}
	if checkName("host.example") == nil || checkName("") == nil || checkName("node-1") != nil {
		t.Error("checkName")
	}
}
