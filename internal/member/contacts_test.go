package member

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"sanshi/internal/testkit"
)

// TestContactsReadTheMembersAsked: the notification service's read of
// members' addresses answers exactly the members asked for that exist, on
// SQLite and PostgreSQL (where the ids go as one array).
func TestContactsReadTheMembersAsked(t *testing.T) {
	for dialect, url := range testkit.DatabaseURLs(t, "member") {
		t.Run(dialect, func(t *testing.T) {
			s := NewStore(testkit.ServiceDB(t, Spec(), url))
			var ids []string
			for i := range 3 {
				m, err := s.Create(context.Background(), SignUp{Email: fmt.Sprintf("contact%d-%d@example.cn", time.Now().UnixNano(), i), Nickname: fmt.Sprint("联系", i), Lang: "zh-CN"}, "hash", time.Now())
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, m.ID)
			}
			got, err := s.Contacts(context.Background(), []string{ids[0], ids[2], "no-such-member"})
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, c := range got {
				found = append(found, c.ID)
			}
			slices.Sort(found)
			want := []string{ids[0], ids[2]}
			slices.Sort(want)
			if !slices.Equal(found, want) {
				t.Fatalf("contacts of %v: %v", want, got)
			}
		})
	}
}
