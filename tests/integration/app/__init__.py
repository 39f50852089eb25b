"""The app as a whole: start-up, instance files, the worker and its claims, retention, paging, the demo
seed, and the pages on any day."""
