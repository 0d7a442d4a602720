"""The queries views and commands run, one module per domain; views hold no SQL of their own.

queue.py   review queue pages, tab counts, decision targets, a check's neighbours
stats.py   checks per day, per-site figures (stats page, key-sites, get-stats)
sites.py   site listings
audit.py   the audit log: append, page, latest of one action
logins.py  login throttle counters
users.py   accounts (create, enable/disable, password, sessions)
"""
