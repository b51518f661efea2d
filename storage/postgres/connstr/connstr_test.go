package connstr

import "testing"

func TestRedact(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	tests := []struct {
		name, in string
		known    []string
		want     string
	}{
		{"url", "postgres://kiosk:" + pw + "@db.example:5432/kiosk", nil, "postgres://kiosk:xxxxx@db.example:5432/kiosk"},
		{"url without password", "postgres://kiosk@db.example/kiosk", nil, "postgres://kiosk@db.example/kiosk"},
		{"url without user info", "postgres://db.example/kiosk?sslmode=disable", nil, "postgres://db.example/kiosk?sslmode=disable"},
		{"empty password", "postgres://kiosk:@db.example/kiosk", nil, "postgres://kiosk:xxxxx@db.example/kiosk"},
		{"malformed url", "postgres://kiosk:hunter2@[::1/kiosk", nil, "postgres://kiosk:xxxxx@[::1/kiosk"},
		{"raw @ in password", "postgres://kiosk:p@ss@db.example/kiosk", nil, "postgres://kiosk:xxxxx@db.example/kiosk"},
		{"quoted in an error", `cannot parse "postgres://kiosk:` + pw + `@127.0.0.1:notaport/kiosk": invalid port`, nil,
			`cannot parse "postgres://kiosk:xxxxx@127.0.0.1:notaport/kiosk": invalid port`},
		{"two urls", "postgres://a:one@h1/db and postgresql://b:two@h2/db", nil, "postgres://a:xxxxx@h1/db and postgresql://b:xxxxx@h2/db"},
		{"query parameter", "postgres://kiosk@db.example/kiosk?password=" + pw, nil, "postgres://kiosk@db.example/kiosk?password=xxxxx"},
		{"key=value", "host=127.0.0.1 user=kiosk password=" + pw + " sslmode=disable", nil, "host=127.0.0.1 user=kiosk password=xxxxx sslmode=disable"},
		{"key=value quoted", "host=x password='pass word' user=kiosk", nil, "host=x password=xxxxx user=kiosk"},
		{"key=value quoted escape", `password='it\'s secret' user=kiosk`, nil, "password=xxxxx user=kiosk"},
		{"key=value unterminated quote", "password='" + pw, nil, "password=xxxxx"},
		{"key = value", "host=x password = " + pw, nil, "host=x password = xxxxx"},
		{"upper case key", "PASSWORD=" + pw, nil, "PASSWORD=xxxxx"},
		{"known password alone", "server said: bad password " + pw, []string{pw}, "server said: bad password xxxxx"},
		{"empty known password ignored", "host=x user=kiosk", []string{""}, "host=x user=kiosk"},
		{"nothing to hide", "connect: connection refused", nil, "connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in, tt.known...)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
