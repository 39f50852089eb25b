"""The admin home and the admin's finishing touches."""
