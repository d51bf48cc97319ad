"""``latentspace index lexical``: set a collection's BM25 analysis options and rebuild its lexical index."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, open_engine, run


def index_lexical(
    collection: Annotated[str, typer.Option("--collection", "-c")],
    stemmer: Annotated[str, typer.Option(help="english | none")] = "english",
    stopwords: Annotated[str, typer.Option(help="en | none")] = "en",
    lowercase: Annotated[bool, typer.Option(help="lower-case before matching")] = True,
    k1: Annotated[float, typer.Option(help="BM25 term-frequency saturation")] = 1.5,
    b: Annotated[float, typer.Option(help="BM25 length normalisation in [0, 1]")] = 0.75,
) -> None:
    """Configure a collection's lexical analysis (stored with the collection) and rebuild its BM25 index."""
    from services.sync.lexical import configure_lexical

    engine = open_engine()
    raw = {"stemmer": stemmer, "stopwords": stopwords, "lowercase": lowercase, "k1": k1, "b": b}
    options = run(lambda: configure_lexical(engine, collection, raw))
    console.print(f"lexical index of {collection} rebuilt with {options}")
