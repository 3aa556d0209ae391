"""Workflows: the deterministic engine (standard library, temporalio and the contracts only).

Room: workflows.
"""
