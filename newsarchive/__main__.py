"""`python -m newsarchive`."""

from newsarchive.cli import main

if __name__ == "__main__":
    main()
