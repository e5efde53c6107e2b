from actlab.cli import run

run()
