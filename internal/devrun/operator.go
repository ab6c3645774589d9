package devrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"sanshi/internal/admin"
)

// OperatorEmail is the operator account `sanshi dev` creates on first start.
const OperatorEmail = "operator@sanshi.local"

// operatorHelp tells what to do when the first operator could not be made;
// nothing is remembered, so the next start tries again.
const operatorHelp = "                 the next `sanshi dev` tries again; or sign up at the site and run\n" +
	"                 `sanshi admin grant-operator EMAIL` in this folder"

// seedOperator creates the first operator account once per data folder and
// returns a line to show (with the password, which is shown only now).
func seedOperator(o Options, dir string) string {
	marker := filepath.Join(dir, "operator-created")
	if _, err := os.Stat(marker); err == nil {
		return fmt.Sprintf("Operator       %s (password shown at the first start)", OperatorEmail)
	}
	password := randomPassword()
	body, _ := json.Marshal(map[string]string{"email": OperatorEmail, "password": password, "nickname": "运营"})
	resp, err := signUpWhenReady(fmt.Sprintf("http://127.0.0.1:%d/api/v1/members", o.SitePort), body, 30*time.Second)
	if err != nil {
		return "Operator       not created: " + err.Error() + "\n" + operatorHelp
	}
	if resp.StatusCode == http.StatusConflict {
		_ = os.WriteFile(marker, []byte(OperatorEmail+"\n"), 0o600)
		return fmt.Sprintf("Operator       %s already exists", OperatorEmail)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Sprintf("Operator       not created: the member service answered %d\n%s", resp.StatusCode, operatorHelp)
	}
	cmd := exec.Command(o.Executable, "admin", "grant-operator", OperatorEmail) // #nosec G204 -- sanshi dev runs its own executable
	cmd.Env = childEnv(os.Environ(), map[string]string{"SANSHI_DATA_DIR": dir})
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("Operator       not granted: %v %s\n%s", err, out, operatorHelp)
	}
	_ = os.WriteFile(marker, []byte(OperatorEmail+"\n"), 0o600)
	demo := ""
	site := fmt.Sprintf("http://127.0.0.1:%d", o.SitePort)
	if n, err := admin.Demo(context.Background(), site, OperatorEmail, password); err != nil {
		demo = "\n  Demo data      not created: " + err.Error()
	} else {
		demo = fmt.Sprintf("\n  Demo data      %d live projects with a few paid pledges", n)
	}
	return fmt.Sprintf("Operator       %s / %s  (shown once: note it now)", OperatorEmail, password) + demo
}

// signUpWhenReady posts the sign-up, trying again while the platform is
// still coming up (the gateway may not see the member service yet, or the
// member service may be busy: 5xx or no answer), for up to patience. A
// repeated sign-up is harmless: it answers 409, which is taken as done.
func signUpWhenReady(url string, body []byte, patience time.Duration) (*http.Response, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(patience)
	for {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode < 500 {
				return resp, nil
			}
			err = fmt.Errorf("the member service answered %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func randomPassword() string {
	const letters = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
