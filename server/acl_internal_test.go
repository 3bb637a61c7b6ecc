package server

import "testing"

// TestRelHotPathAllocatesNothingRestricted: the permission check of a user
// with rules (a read-only relation service) allocates nothing either.
func TestRelHotPathAllocatesNothingRestricted(t *testing.T) {
	s, c, check, multi := relFixture(t)
	s.slowlog.threshold.Store(-1)
	if err := s.acl.users.SetUser("relsvc", []string{"on", ">pw", "~*", "+@read", "+@relation", "-@write"}); err != nil {
		t.Fatal(err)
	}
	c.user.Store(s.acl.users.Handle("relsvc"))
	allocatesNothing(t, s, c, check, multi, binForm(multi, 2))
}
