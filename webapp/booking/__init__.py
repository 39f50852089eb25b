"""One-time links and the public pages that book, move and cancel with them."""
