"""The programs the parts start in their own processes (inside a throttle group, or several at
once): real files, run as `python3 FILE ARGS`, never imported."""
import os

_HERE = os.path.dirname(os.path.abspath(__file__))

FOREGROUND = os.path.join(_HERE, "foreground.py")  # the overlap and ioprio parts' webserver-like reader
PAGE_LOOP = os.path.join(_HERE, "page_loop.py")  # the watch part's page-cache loop
