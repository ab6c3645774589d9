package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"sanshi/internal/testkit"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSMTPOverTLSWithALogin sends through a real server that requires
// STARTTLS (smtp://) or TLS from the start (smtps://) and a login, as a
// provider's server does; a wrong password is a permanent refusal.
func TestSMTPOverTLSWithALogin(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret pass"), bcrypt.MinCost)
	auth := filepath.Join(t.TempDir(), "smtp-users")
	if err := os.WriteFile(auth, []byte("noreply@example.cn:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ scheme, flag string }{{"smtp", "--smtp-require-starttls"}, {"smtps", "--smtp-require-tls"}} {
		t.Run(c.scheme, func(t *testing.T) {
			mp := testkit.StartMailpit(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, c.flag, "--smtp-auth-file", auth)
			at := func(password string) string {
				return (&url.URL{Scheme: c.scheme, User: url.UserPassword("noreply@example.cn", password), Host: mp.SMTP}).String()
			}
			send := func(rawURL, password, to string) error {
				s, err := ParseSMTP(rawURL, password)
				if err != nil {
					t.Fatal(err)
				}
				s.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
				msg := "From: noreply@example.cn\r\nTo: " + to + "\r\nSubject: tls\r\n\r\nhello\r\n"
				return s.Send(context.Background(), "三拾众筹 <noreply@example.cn>", to, "m1", []byte(msg), func() error { return nil })
			}
			// The password from the URL, then from SANSHI_SMTP_PASSWORD (which wins).
			if err := send(at("s3cret pass"), "", "a@example.cn"); err != nil {
				t.Fatalf("send with the URL's password: %v", err)
			}
			if err := send(at("wrong"), "s3cret pass", "b@example.cn"); err != nil {
				t.Fatalf("send with SANSHI_SMTP_PASSWORD: %v", err)
			}
			err := send(at("wrong"), "", "c@example.cn")
			if err == nil || !isPermanent(err) || strings.Contains(err.Error(), "wrong") {
				t.Fatalf("a wrong password: %v (permanent %v)", err, isPermanent(err))
			}
			mp.WaitFor(t, "to:a@example.cn", 1, 10*time.Second)
			mp.WaitFor(t, "to:b@example.cn", 1, 10*time.Second)
			if n := len(mp.Search(t, "to:c@example.cn")); n != 0 {
				t.Fatalf("sent with a wrong password: %d", n)
			}
		})
	}
}
