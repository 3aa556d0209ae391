"""`warroom classification …`: validate the keyword lists and try an alert against them.

Room: CLI (a composition root). Reads Settings().classification_file (WARROOM_CLASSIFICATION_FILE,
default the shipped warroom/classification.yaml) directly; nothing here talks to Temporal.
`validate` is what an SRE (and CI) runs before shipping a change: one
`file:line: field.path: message` per problem, exit 2 if there is any. `explain` says which
category an alert gets and why, as the assess step will record it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

classification_app = typer.Typer(
    help="Classification: validate the keyword lists (WARROOM_CLASSIFICATION_FILE, default the shipped "
         "warroom/classification.yaml) and try an alert against them.", no_args_is_help=True)

FileOpt = Annotated[Path | None, typer.Option("--file", help="keyword lists file (default: the configured one)")]


def _file(path: Path | None) -> Path:
    from warroom.settings import Settings

    return path or Settings().classification_file


@classification_app.command("validate")
def validate(paths: Annotated[list[Path] | None, typer.Argument(
        help="keyword lists files (default: the configured one)")] = None) -> None:
    """Check keyword lists files against the format; one `file:line: field.path: message` per problem."""
    from warroom.keywords import load_keywords, validate_paths

    targets = list(paths or [_file(None)])
    problems = validate_paths(targets)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)", err=True)
        raise typer.Exit(2)
    for target in targets:
        keywords = load_keywords(target)
        terms = set(keywords.terms.values())
        typer.echo(f"{target}: valid, {len(keywords.order)} categories, {sum(bool(c) for c, _ in terms)} terms, "
                   f"{sum(not c for c, _ in terms)} look-alikes, {keywords.version_label}")


@classification_app.command("explain")
def explain(
    title: Annotated[str, typer.Argument(help="the alert's title, e.g. \"数据库宕机\" or \"Login slow\"")],
    description: Annotated[str, typer.Option("--description", help="the alert's description")] = "",
    alertname: Annotated[str, typer.Option("--alertname", help="the alert's alertname label")] = "",
    file: FileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The category an alert with this title gets, and why (the terms that decided it)."""
    from warroom.classify import classify_category
    from warroom.keywords import KeywordsError, load_keywords
    from workflows.contracts import AlertInfo

    try:
        keywords = load_keywords(_file(file))
    except KeywordsError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    labels = {"alertname": alertname} if alertname else {}
    result = classify_category(AlertInfo(title=title, description=description, labels=labels), keywords)
    if as_json:
        typer.echo(json.dumps({"category": result.category, "field": result.field, "terms": list(result.terms),
                               "reason": result.reason}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{result.category}: {result.reason}")
