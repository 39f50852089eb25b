"""The outbox, its sending and its pages, and mail that never carries a link it should not."""
