"""Who the caller is and what they may do: roles and the permission of every field (`roles`),
API tokens (`tokens`), and the one place that verifies callers (`callers`)."""
