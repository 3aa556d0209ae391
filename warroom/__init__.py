"""warroom: the library the engine, the API, the worker and the CLI share.

Room: shared library (warroom/). Nothing in it imports api/ or worker.py but warroom/cli.
"""
