"""``python -m smsclub_async``: the ``smsclub`` command line."""

from smsclub_async.cli import main

if __name__ == "__main__":
    main()
