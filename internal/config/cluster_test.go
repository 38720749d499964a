package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestClusterSection(t *testing.T) {
	c := mustParse(t, `
[cluster]
url = nats://10.0.0.1:4222, tls://nats.example.com:4443
name = web-1
credentials = gaffer.creds
ca_certs = /etc/gaffer/nats-ca.pem
certfile = client.pem
keyfile = client.key
`)
	dir := "." // relative to the file, here gaffer.ini
	want := &Cluster{URL: "nats://10.0.0.1:4222, tls://nats.example.com:4443", Name: "web-1",
		Credentials: filepath.Join(dir, "gaffer.creds"), CACerts: "/etc/gaffer/nats-ca.pem",
		CertFile: filepath.Join(dir, "client.pem"), KeyFile: filepath.Join(dir, "client.key")}
	if !reflect.DeepEqual(c.Cluster, want) {
		t.Errorf("cluster = %+v\nwant      %+v", c.Cluster, want)
	}
	c = mustParse(t, "[cluster]\nembedded = true\nlisten = 127.0.0.1:0\nnkey = /k/seed.nk\n")
	if want := (&Cluster{Embedded: true, Listen: "127.0.0.1:0", NKey: "/k/seed.nk"}); !reflect.DeepEqual(c.Cluster, want) {
		t.Errorf("cluster = %+v, want %+v", c.Cluster, want)
	}
	// The URL may come from the command line (--cluster, --cluster-embedded).
	if c := mustParse(t, "[cluster]\nname = n1\n"); c.Cluster == nil || len(c.Cluster.Validate()) != 1 {
		t.Errorf("[cluster] without url: %+v", c.Cluster)
	}
	if c := mustParse(t, "[job:web]\ncmd = x\n"); c.Cluster != nil {
		t.Errorf("no [cluster], yet Cluster = %+v", c.Cluster)
	}
	if c := mustParse(t, "[cluster]\nembedded = yes\nport = 1\n"); len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "port") {
		t.Errorf("unknown key: warnings %q", c.Warnings)
	}
}

func TestClusterSectionErrors(t *testing.T) {
	for _, tc := range []struct{ body, key, text string }{
		{"url = nats://h:4222\nembedded = true", "url", "not both"},
		{"url = http://h:4222", "url", `scheme "http"`},
		{"url = h", "url", `"h" is not a URL`},
		{"embedded = maybe", "embedded", "maybe"},
		{"embedded = true\nlisten = 4222", "listen", `"4222" is not host:port`},
		{"url = nats://h:1\nlisten = 127.0.0.1:4222", "listen", "set embedded = true"},
		{"embedded = true\nname = a.b", "name", `"a.b"`},
		{"embedded = true\ncredentials = c\nnkey = n", "nkey", "not both"},
		{"embedded = true\nkeyfile = k", "certfile", "keyfile is set"},
	} {
		found := false
		var got []string
		for _, e := range problems(t, "[cluster]\n"+tc.body+"\n") {
			got = append(got, e.Error())
			if e.Key == tc.key && e.Section == "cluster" && strings.Contains(e.Error(), tc.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: errors %q do not name [cluster] %s with %q", tc.body, got, tc.key, tc.text)
		}
	}
}

func FuzzClusterSection(f *testing.F) {
	for _, s := range []string{
		"url = nats://h:4222", "embedded = true\nlisten = 127.0.0.1:0", "url = tls://a:1,nats://b:2\nname = n",
		"embedded = 1\ncredentials = x\nnkey = y", "url = %(x)s", "url = nats://[::1]:4222",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := Parse("gafferd.ini", []byte("[cluster]\n"+body+"\n"))
		if err != nil {
			return
		}
		if c.Cluster == nil {
			t.Fatal("no error and no Cluster")
		}
		for _, err := range c.Cluster.Validate() {
			if !errors.Is(err, ErrMissing) || c.Cluster.URL != "" || c.Cluster.Embedded {
				t.Fatalf("accepted an invalid section: %v", err)
			}
		}
		if c.Cluster.URL != "" && c.Cluster.Embedded {
			t.Fatalf("accepted %+v", c.Cluster)
		}
	})
}
