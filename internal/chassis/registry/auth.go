package registry

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EnableAuth turns etcd's authentication on with a root user and one
// platform user whose role may read and write only under /sanshi/, as
// docs/security.md tells operators to. It may run again (every deployment
// start does): it logs in as root once authentication is on, keeps what
// exists, and sets the platform user's password to the one given.
func EnableAuth(ctx context.Context, a Access, rootPassword, user, password string) error {
	if rootPassword == "" || user == "" || password == "" || user == "root" {
		return errors.New("etcd authentication needs a root password, a platform user (not root) and its password")
	}
	anon := a
	anon.User, anon.Password = "", ""
	cli, err := ConnectWith(anon)
	if err != nil {
		return err
	}
	defer cli.Close()
	// With authentication on, an anonymous client may not even ask.
	st, err := cli.AuthStatus(ctx)
	enabled := errors.Is(err, rpctypes.ErrUserEmpty) || errors.Is(err, rpctypes.ErrGRPCUserEmpty)
	if err != nil && !enabled {
		return fmt.Errorf("etcd auth status: %w", err)
	}
	if enabled || st.Enabled {
		// Already on: the steps below run as root and repair what is missing.
		_ = cli.Close()
		root := a
		root.User, root.Password = "root", rootPassword
		if cli, err = ConnectWith(root); err != nil {
			return err
		}
	}
	steps := []struct {
		what string
		run  func() error
	}{
		{"add user root", func() error { _, err := cli.UserAdd(ctx, "root", rootPassword); return err }},
		{"grant root the root role", func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err }},
		{"add role " + user, func() error { _, err := cli.RoleAdd(ctx, user); return err }},
		{"grant role " + user + " /sanshi/", func() error {
			_, err := cli.RoleGrantPermission(ctx, user, "/sanshi/", clientv3.GetPrefixRangeEnd("/sanshi/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		}},
		{"add user " + user, func() error { _, err := cli.UserAdd(ctx, user, password); return err }},
		{"set the password of " + user, func() error { _, err := cli.UserChangePassword(ctx, user, password); return err }},
		{"grant user " + user + " its role", func() error { _, err := cli.UserGrantRole(ctx, user, user); return err }},
		{"enable authentication", func() error { _, err := cli.AuthEnable(ctx); return err }},
	}
	for _, s := range steps {
		if err := s.run(); err != nil && !alreadyDone(err) {
			return fmt.Errorf("etcd: %s: %w", s.what, err)
		}
	}
	return nil
}

func alreadyDone(err error) bool {
	return errors.Is(err, rpctypes.ErrUserAlreadyExist) || errors.Is(err, rpctypes.ErrRoleAlreadyExist) ||
		errors.Is(err, rpctypes.ErrGRPCUserAlreadyExist) || errors.Is(err, rpctypes.ErrGRPCRoleAlreadyExist)
}
