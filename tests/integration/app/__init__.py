"""The app as a whole: start-up, instance files, the worker and its claims, retention, paging, the demo seed, pages on any day."""
