"""python -m monitor: the same program as the `stancewatch` console script."""

from monitor.cli import main

if __name__ == "__main__":
    main()
