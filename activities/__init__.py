"""Activities: all the I/O of the engine (assess, notify, war room, recovery, records).

Room: activities. One file per activity family; common.py holds what they share.
"""
